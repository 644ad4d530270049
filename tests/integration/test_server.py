"""The store and engine against Chroma on disk and a real Chroma server; two processes sharing one server."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from retrieval.embedding import Embedder
from retrieval.errors import LibraryEmpty, RagbotError
from retrieval.ingest.loaders import SAMPLE_ARTICLE, SAMPLE_DOC_ID
from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.store import open_client
from retrieval.types import CANNOT_ANSWER, Document
from tests.support.chroma import ChromaServer, make_settings
from tests.support.cli import RAGBOT, cli_env

LIGHTHOUSE = Document(
    doc_id="news:lighthouse",
    source="https://example.org/lighthouse",
    title="Keeper restores the Skerryvore lighthouse",
    text=(
        "The Skerryvore lighthouse was restored by keeper Ailsa Brodie in 2021. "
        "Brodie replaced the lamp with a rotating beam visible for eighteen miles. "
        "The restoration cost forty thousand pounds, raised by the island's fishing cooperative."
    ),
)


def _sample(lib: Library) -> None:
    report = lib.ingest_sample()
    assert report.added == [SAMPLE_DOC_ID]


def test_answers_with_checkable_citations(any_library: Library) -> None:
    _sample(any_library)
    answer = any_library.ask("what exercises were mentioned?")
    assert answer.answerable and answer.citations
    text = any_library.document_text(SAMPLE_DOC_ID)
    assert text is not None
    for c in answer.citations:
        assert text[c.start : c.end] == c.quote
    assert any_library.ask("who won the 1998 chess olympiad?").text == CANNOT_ANSWER


def test_reingest_replaces_and_forget_removes(any_library: Library) -> None:
    lib = any_library
    assert lib.ingest_documents([LIGHTHOUSE]).added == [LIGHTHOUSE.doc_id]
    assert lib.ingest_documents([LIGHTHOUSE]).unchanged == [LIGHTHOUSE.doc_id]
    changed = Document(**{**LIGHTHOUSE.__dict__, "text": LIGHTHOUSE.text.replace("eighteen", "twenty-two")})
    assert lib.ingest_documents([changed]).replaced == [LIGHTHOUSE.doc_id]
    col = lib.collection()
    metas = [c.meta for c in col.all_chunks()]
    assert {m["version"] for m in metas} == {changed.content_hash}
    hits = lib.search("how far is the beam visible?", k=10)
    assert hits and all("eighteen" not in h.text for h in hits)
    assert any("twenty-two" in h.text for h in hits)
    assert [s.doc_id for s in lib.sources()] == [LIGHTHOUSE.doc_id]
    assert lib.forget(LIGHTHOUSE.doc_id) is True
    assert lib.sources() == [] and col.count() == 0
    with pytest.raises(LibraryEmpty):
        lib.search("Skerryvore lighthouse keeper")


def test_a_second_library_sees_new_documents_without_reopening(any_settings: Settings, embedder: Embedder) -> None:
    """Two Library objects (two clients, two keyword indexes) on one store: the reader's index follows writes."""
    writer = Library(any_settings, embedder=embedder)
    reader = Library(any_settings, embedder=embedder)
    _sample(writer)
    assert reader.ask("who restored the Skerryvore lighthouse?").text == CANNOT_ANSWER
    writer.ingest_documents([LIGHTHOUSE])
    hits = reader.search("Skerryvore lighthouse keeper", k=3)
    assert hits and hits[0].doc_id == LIGHTHOUSE.doc_id
    writer.forget(LIGHTHOUSE.doc_id)
    assert all(h.doc_id != LIGHTHOUSE.doc_id for h in reader.search("Skerryvore lighthouse keeper", k=3))


def test_two_ragbot_processes_share_one_server(chroma_server: ChromaServer, tmp_path: Path) -> None:
    """A running `ragbot ask` batch process answers from a document another process ingests meanwhile."""
    settings = make_settings("server", tmp_path, chroma_server)
    env = cli_env(settings)
    sample = subprocess.run([RAGBOT, "ingest", str(SAMPLE_ARTICLE)], env=env, cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600)
    assert sample.returncode == 0, sample.stderr
    asker = subprocess.Popen(
        [RAGBOT, "ask", "--json"], env=env, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert asker.stdin and asker.stdout
    try:
        question = "Who restored the Skerryvore lighthouse?"
        asker.stdin.write(question + "\n")
        asker.stdin.flush()
        before = json.loads(asker.stdout.readline())
        assert before["answerable"] is False and before["answer"] == CANNOT_ANSWER

        article = tmp_path / "lighthouse.txt"
        article.write_text(LIGHTHOUSE.title + "\n\n" + LIGHTHOUSE.text, encoding="utf-8")
        ingest = subprocess.run([RAGBOT, "ingest", str(article)], env=env, cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600)
        assert ingest.returncode == 0, ingest.stderr

        asker.stdin.write(question + "\n")
        asker.stdin.flush()
        after = json.loads(asker.stdout.readline())
        assert after["answerable"] is True, after
        assert "Brodie" in after["answer"]
        assert {c["source"] for c in after["citations"]} == {str(article.resolve())}
        asker.stdin.close()
        assert asker.wait(timeout=120) == 0
    finally:
        if asker.poll() is None:
            asker.kill()
            asker.wait()


class _TokenProxy:
    """A reverse proxy in front of Chroma that demands `Authorization: Bearer TOKEN`.

    Chroma 1.x's own server (`chroma run`) has no token authentication (it was not carried over
    to the Rust server); deployments put it behind a proxy that checks one, like this one.
    """

    def __init__(self, upstream: str, token: str) -> None:
        proxy = self
        self.upstream = upstream
        self.seen_tokens: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                auth = self.headers.get("Authorization", "")
                proxy.seen_tokens.append(auth)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if auth != f"Bearer {token}":
                    self.send_response(401)  # what nginx or Caddy answer
                    payload = b"<html><head><title>401 Authorization Required</title></head><body>401</body></html>"
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization", "content-length")}
                r = httpx.request(self.command, proxy.upstream + self.path, content=body, headers=headers, timeout=60, trust_env=False)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def token_proxy(chroma_server: ChromaServer) -> Iterator[_TokenProxy]:
    proxy = _TokenProxy(chroma_server.url, "s3cret-chroma-token-XYZ")
    try:
        yield proxy
    finally:
        proxy.close()


def test_chroma_token_is_sent_and_a_wrong_one_is_refused_clearly(token_proxy: _TokenProxy, tmp_path: Path, embedder: Embedder) -> None:
    from pydantic import SecretStr

    good = make_settings("local", tmp_path, None, chroma_url=token_proxy.url, chroma_token=SecretStr("s3cret-chroma-token-XYZ"), collection="tokentest-" + tmp_path.name[-8:].replace("_", "-"))
    lib = Library(good, embedder=embedder)
    assert lib.ingest_documents([LIGHTHOUSE]).added == [LIGHTHOUSE.doc_id]
    assert lib.search("Skerryvore lighthouse keeper")[0].doc_id == LIGHTHOUSE.doc_id
    assert token_proxy.seen_tokens and set(token_proxy.seen_tokens) == {"Bearer s3cret-chroma-token-XYZ"}

    for token in (None, SecretStr("wrong-token-ABC")):
        bad = good.model_copy(update={"chroma_token": token})
        with pytest.raises(RagbotError) as err:
            Library(bad, embedder=embedder).sources()
        message = str(err.value)
        assert "RAGBOT_CHROMA_TOKEN" in message, message
        assert "s3cret" not in message and "wrong-token" not in message


def test_unreachable_server_is_one_clear_sentence(tmp_path: Path) -> None:
    from tests.support.helpers import free_port

    settings = make_settings("local", tmp_path, None, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RagbotError, match="Chroma server"):
        open_client(settings).heartbeat()
