"""Writers and readers of one library in several processes (real `ragbot` processes, real Chroma).

On disk: two ingests at once are serialised by the writer lock (the second says it waits), and
a long-lived reader answers every question during and after another process's ingest. With a
Chroma server, two writers at once both succeed.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from retrieval.embedding import Embedder
from retrieval.errors import RagbotError
from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.store.locks import LibraryLocks
from retrieval.types import Document
from tests.support.chroma import ChromaServer, make_settings
from tests.support.cli import RAGBOT, cli_env

CLEAN = {"orphan_chunks": [], "stale_chunks": [], "incomplete_documents": []}
WAITING = "Another ragbot process is writing to this library; waiting for it to finish"


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, Path, list[dict]]:
    """240 SQuAD passages split in two corpora of 120."""
    rows = [json.loads(line) for line in (shared_data / "squad-v1.1-dev" / "passages.jsonl").open()][:240]
    folder = tmp_path_factory.mktemp("halves")
    first, second = folder / "first.jsonl", folder / "second.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows[:120]))
    second.write_text("".join(json.dumps(r) + "\n" for r in rows[120:]))
    return first, second, rows


def _ingest(settings: Settings, corpus: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(RAGBOT), "ingest", str(corpus), "--json"], env=cli_env(settings, RAGBOT_EMBED_BACKEND="onnx"), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=settings.data_dir.parent)


def _question(row: dict) -> str:
    return row["text"].split(". ")[0][:200]


def _check_whole(lib: Library, rows: list[dict]) -> None:
    """Every document is there once, nothing is left over, and questions from both halves are answered from them."""
    assert len(lib.sources()) == len(rows)
    assert lib.collection().problems() == CLEAN
    for row in (rows[0], rows[len(rows) // 2 + 1], rows[-1]):
        answer = lib.ask(_question(row), generator="extractive")
        assert answer.answerable and row["id"] in {c.doc_id for c in answer.citations}, (row["id"], answer.text)


def test_a_second_writer_waits_for_the_first_and_says_so(settings: Settings, halves: tuple[Path, Path, list[dict]]) -> None:
    first, _, _ = halves
    holder = LibraryLocks(settings.data_dir / "locks", notify=print)
    with holder.writing():
        child = _ingest(settings, first)
        assert child.stderr is not None
        line = child.stderr.readline()  # (blocks until the child says something: it must say it waits)
        assert line.startswith(f"ragbot: {WAITING}"), line
        assert child.poll() is None  # still waiting
    out, err = child.communicate(timeout=600)
    assert child.returncode == 0, err
    assert json.loads(out)["added"] == 120


def test_a_writer_that_waits_too_long_is_refused_with_one_sentence(settings: Settings) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with LibraryLocks(settings.data_dir / "locks", notify=print).writing():
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(30)
        told: list[str] = []
        locks = LibraryLocks(settings.data_dir / "locks", notify=told.append, writer_wait=0.3)
        with (
            pytest.raises(RagbotError, match=r"^Another ragbot process has been writing to this library for over 0.3 s"),
            locks.writing(),
        ):
            pass
        assert told == [WAITING + "…"]
    finally:
        release.set()
        holder.join()


def test_two_ingests_at_once_on_disk_leave_a_whole_library(
    settings: Settings, embedder: Embedder, halves: tuple[Path, Path, list[dict]]
) -> None:
    first, second, rows = halves
    a, b = _ingest(settings, first), _ingest(settings, second)
    (out_a, err_a), (out_b, err_b) = a.communicate(timeout=900), b.communicate(timeout=900)
    assert a.returncode == 0 and b.returncode == 0, (err_a, err_b)
    assert json.loads(out_a)["added"] == 120 and json.loads(out_b)["added"] == 120
    assert WAITING in err_a + err_b  # one of them waited for the other
    _check_whole(Library(settings, embedder=embedder), rows)


def test_two_ingests_at_once_on_a_chroma_server_both_succeed(
    chroma_server: ChromaServer, tmp_path: Path, embedder: Embedder, halves: tuple[Path, Path, list[dict]]
) -> None:
    first, second, rows = halves
    settings = make_settings("server", tmp_path, chroma_server, embed_backend="onnx")
    a, b = _ingest(settings, first), _ingest(settings, second)
    (out_a, err_a), (out_b, err_b) = a.communicate(timeout=900), b.communicate(timeout=900)
    assert a.returncode == 0 and b.returncode == 0, (err_a, err_b)
    assert WAITING not in err_a + err_b  # the server serialises writes itself: nobody waits
    assert json.loads(out_a)["added"] == 120 and json.loads(out_b)["added"] == 120
    _check_whole(Library(settings, embedder=embedder), rows)


def test_a_long_lived_reader_answers_during_and_after_another_process_ingests(
    settings: Settings, embedder: Embedder, halves: tuple[Path, Path, list[dict]]
) -> None:
    first, second, rows = halves
    assert _ingest(settings, first).wait(timeout=600) == 0
    reader = Library(settings, embedder=embedder)  # like the bot or the REPL: one process, open throughout
    assert reader.ask(_question(rows[0]), generator="extractive").answerable
    child = _ingest(settings, second)
    asked = 0
    while child.poll() is None or asked == 0:
        row = rows[asked % 120]
        answer = reader.ask(_question(row), generator="extractive")  # never an error
        assert answer.answerable and row["id"] in {c.doc_id for c in answer.citations}
        asked += 1
        time.sleep(0.05)
    assert child.returncode == 0, child.stderr.read() if child.stderr else ""
    late = rows[-1]
    answer = reader.ask(_question(late), generator="extractive")  # the state after the write, in the same process
    assert answer.answerable and late["id"] in {c.doc_id for c in answer.citations}
    assert len(reader.sources()) == 240


def test_a_long_lived_process_writes_after_another_process_ingested(
    settings: Settings, embedder: Embedder, halves: tuple[Path, Path, list[dict]]
) -> None:
    first, second, rows = halves
    assert _ingest(settings, first).wait(timeout=600) == 0
    bot = Library(settings, embedder=embedder)  # like the bot: open throughout, and it ingests too
    assert bot.ask(_question(rows[0]), generator="extractive").answerable
    assert _ingest(settings, second).wait(timeout=600) == 0
    own = Document(doc_id="own", title="Storm week", text="The lighthouse keeper logged 212 passing ferries in the storm week.", source="own.txt")
    assert bot.ingest_documents([own]).added == ["own"]
    assert bot.forget(rows[5]["id"])
    questions = [_question(rows[-1]), _question(rows[130]), "How many ferries did the lighthouse keeper log?"]
    asked = subprocess.run([str(RAGBOT), "ask", "--json"], input="\n".join(questions) + "\n", check=False, capture_output=True, text=True,
                           env=cli_env(settings, RAGBOT_EMBED_BACKEND="onnx"), cwd=settings.data_dir.parent, timeout=600)
    assert asked.returncode == 0, asked.stderr
    answers = [json.loads(line) for line in asked.stdout.splitlines()]
    for answer, wanted in zip(answers, [rows[-1]["id"], rows[130]["id"], "own"], strict=True):
        assert answer["answerable"] and wanted in {c["doc_id"] for c in answer["citations"]}, (wanted, answer["answer"])
    fresh = Library(settings, embedder=embedder)
    assert fresh.collection().problems() == CLEAN
    assert len(fresh.sources()) == 240
