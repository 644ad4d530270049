"""Near-duplicate articles (one wire story on two sites) are reported at ingest; keep or skip is the user's choice."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from retrieval.ingest.dedup import THRESHOLD, DuplicateIndex, containment, signature
from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.types import Document
from tests.support.articles import WIRE_PARAGRAPHS, ArticleServer
from tests.support.cli import RAGBOT, cli_env


def test_signatures_estimate_shared_text() -> None:
    story = " ".join(WIRE_PARAGRAPHS)
    cut = " ".join(WIRE_PARAGRAPHS[:-2])  # the same story cut short
    other = " ".join(reversed(WIRE_PARAGRAPHS[:2])) + " An entirely different closing about cherry harvests in the Betuwe region this July."
    assert containment(signature(story), signature(story)) == 1.0
    assert containment(signature(story), signature(cut)) >= 0.9
    assert containment(signature(story), signature(other)) < THRESHOLD
    assert signature(story).encode() == signature(story).encode()  # stable across calls (and processes: fixed seeds)


def test_squad_neighbours_are_not_duplicates(shared_data: Path) -> None:
    """Passages of one Wikipedia article share a topic and names, not text: none may be flagged."""
    rows = [json.loads(line) for line in (shared_data / "squad-v1.1-dev" / "passages.jsonl").open()][:400]
    index = DuplicateIndex()
    flagged = []
    for row in rows:
        sig = signature(row["text"])
        if index.best_match(row["id"], sig):
            flagged.append(row["id"])
        index.add(row["id"], row["id"], sig)
    assert flagged == []


def test_wire_copy_is_reported_and_kept_by_default(article_server: ArticleServer, library: Library) -> None:
    library.settings.allowed_hosts = ["127.0.0.1"]
    first, copy, other = (article_server.url(p) for p in ("/article.html", "/wire-copy.html", "/other.html"))
    assert library.ingest([first, other]).duplicates == []
    report = library.ingest([copy])
    assert report.added == [copy]
    [dup] = report.duplicates
    assert (dup.doc_id, dup.of_doc_id, dup.action) == (copy, first, "kept") and dup.similarity >= THRESHOLD
    assert f"{copy} looks like a near-duplicate of {first}" in str(dup)
    assert len(library.sources()) == 3
    assert library.ingest([copy]).duplicates == []  # unchanged documents are not re-checked


def test_skip_leaves_the_copy_out(article_server: ArticleServer, library: Library) -> None:
    library.settings.allowed_hosts = ["127.0.0.1"]
    first, copy = article_server.url("/article.html"), article_server.url("/wire-copy.html")
    report = library.ingest([first, copy], duplicates="skip")  # a copy within one ingest counts too
    assert report.added == [first]
    assert [(d.doc_id, d.of_doc_id, d.action) for d in report.duplicates] == [(copy, first, "skipped")]
    assert [s.doc_id for s in library.sources()] == [first]


def test_a_new_version_of_the_same_document_is_not_its_own_duplicate(library: Library) -> None:
    text = " ".join(WIRE_PARAGRAPHS)
    doc = Document(doc_id="a", source="a.txt", title="Barrier", text=text)
    library.ingest_documents([doc])
    report = library.ingest_documents([Document(doc_id="a", source="a.txt", title="Barrier", text=text + " Updated at noon.")], duplicates="skip")
    assert report.replaced == ["a"] and report.duplicates == []


def test_cli_reports_and_skips(article_server: ArticleServer, settings: Settings, tmp_path: Path) -> None:
    env = cli_env(settings, RAGBOT_ALLOWED_HOSTS="127.0.0.1")
    first, copy = article_server.url("/article.html"), article_server.url("/wire-copy.html")
    kept = subprocess.run([RAGBOT, "ingest", first, copy], env=env, cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600)
    assert kept.returncode == 0, kept.stderr
    assert f"{copy} looks like a near-duplicate of {first}" in kept.stderr and "kept." in kept.stderr
    skipped = subprocess.run(
        [RAGBOT, "ingest", "--duplicates", "skip", "--collection", "other", first, copy, "--json"],
        env=env, cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600,
    )
    assert skipped.returncode == 0, skipped.stderr
    summary = json.loads(skipped.stdout)
    assert summary["added"] == 1 and [d["action"] for d in summary["duplicates"]] == ["skipped"]


def test_documents_stored_without_a_signature_are_still_compared(library: Library) -> None:
    """Libraries written before signatures existed: the registry text is used instead."""
    from retrieval.ingest.chunking import chunk_document

    old = Document(doc_id="old", source="old.txt", title="Barrier", text=" ".join(WIRE_PARAGRAPHS))
    chunks = chunk_document(old, library.embedder.tokenizer, 200, 40)
    library.collection().write_documents([(old, chunks, [c.text for c in chunks], library.embedder.embed([c.text for c in chunks]))])
    assert "old" not in library.collection().registry_meta("minhash")
    copy = Document(doc_id="copy", source="copy.txt", title="Barrier again", text=" ".join(WIRE_PARAGRAPHS[:-1]))
    assert [(d.doc_id, d.of_doc_id) for d in library.ingest_documents([copy]).duplicates] == [("copy", "old")]
