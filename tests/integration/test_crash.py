"""A process killed with SIGKILL in the middle of ingesting 2,000 documents leaves a usable library.

The child really is killed (SIGKILL, no chance to clean up). Afterwards the library must open,
list and answer from what was completed, never show a half-written document, and the next
ingest of the same corpus must finish the job and leave no orphan or stale chunk and no
registry entry without its chunks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.embedding import Embedder
from retrieval.library import Library
from retrieval.store.locks import LibraryLocks
from tests.support.crash import hashing_library, run_and_kill
from tests.support.paths import ROOT

N_DOCS = 2000
CLEAN = {"orphan_chunks": [], "stale_chunks": [], "incomplete_documents": []}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, Path, list[dict]]:
    """2,000 SQuAD passages, and the same passages revised (for a re-ingest that replaces every one)."""
    rows = [json.loads(line) for line in (shared_data / "squad-v1.1-dev" / "passages.jsonl").open()][:N_DOCS]
    folder = tmp_path_factory.mktemp("corpus")
    first, revised = folder / "passages.jsonl", folder / "revised.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows))
    revised.write_text("".join(json.dumps({**r, "text": r["text"] + " (Revised edition.)"}) + "\n" for r in rows))
    return first, revised, rows


def _lock_is_free(data_dir: Path) -> None:
    """A writer killed with SIGKILL leaves no lock behind: the next writer goes straight in (the kernel drops it)."""
    told: list[str] = []
    with LibraryLocks(data_dir / "locks", notify=told.append, writer_wait=0).writing():
        pass
    assert told == []




def _check_reader_view(lib: Library, rows: list[dict]) -> set[str]:
    """The library opens; every hit is a registered document's current version; returns the registered ids."""
    registered = {s.doc_id: s for s in lib.sources()}
    current = lib.collection().current_versions()
    for row in rows[:: len(rows) // 40]:
        for hit in lib.search(row["text"][:200], k=5):
            assert hit.doc_id in registered
            assert hit.chunk_id.split("-")[-2] == current[hit.doc_id][0][: len(hit.chunk_id.split("-")[-2])]
            assert (lib.document_text(hit.doc_id) or "")[hit.start : hit.end] == hit.text
    return set(registered)


def _answers(lib: Library, row: dict) -> None:
    """A question about an ingested passage is answered from it, with checkable citations."""
    first_sentence = row["text"].split(". ")[0]
    answer = lib.ask(first_sentence[:300])
    assert answer.answerable, answer
    assert row["id"] in {c.doc_id for c in answer.citations}
    for c in answer.citations:
        assert (lib.document_text(c.doc_id) or "")[c.start : c.end] == c.quote


def test_kill_at_an_arbitrary_moment(corpus: tuple[Path, Path, list[dict]], tmp_path: Path, embedder: Embedder) -> None:
    first, _, rows = corpus
    lines = run_and_kill(tmp_path / "data", first, "run", 0, kill_at_done=N_DOCS // 3)
    _lock_is_free(tmp_path / "data")
    lib = hashing_library(tmp_path / "data", embedder)
    registered = _check_reader_view(lib, rows)
    assert len(registered) < N_DOCS, lines[-3:]
    if registered:
        _answers(lib, next(r for r in rows if r["id"] in registered))
    report = lib.ingest([first])
    assert not report.problems
    assert len(report.added) + len(report.unchanged) == N_DOCS and len(report.unchanged) == len(registered)
    assert len(lib.sources()) == N_DOCS
    assert lib.collection().problems() == CLEAN
    _answers(lib, rows[-1])


def test_kill_after_new_chunks_before_the_registry(corpus: tuple[Path, Path, list[dict]], tmp_path: Path, embedder: Embedder) -> None:
    first, _, rows = corpus
    run_and_kill(tmp_path / "data", first, "after-chunks", 1)
    lib = hashing_library(tmp_path / "data", embedder)
    left = lib.collection().problems()
    assert left["orphan_chunks"], "the kill should have left the second batch's chunks without registry entries"
    assert not left["stale_chunks"] and not left["incomplete_documents"]
    registered = _check_reader_view(lib, rows)
    assert 0 < len(registered) < N_DOCS
    _answers(lib, next(r for r in rows if r["id"] in registered))
    report = lib.ingest([first])
    assert not report.problems and len(report.added) == N_DOCS - len(registered)
    assert lib.collection().problems() == CLEAN
    assert len(lib.sources()) == N_DOCS


def test_kill_after_the_registry_before_old_chunks_go(corpus: tuple[Path, Path, list[dict]], tmp_path: Path, embedder: Embedder) -> None:
    first, revised, rows = corpus
    # The first ingest runs in a child too: Chroma on disk keeps per-process caches, so this
    # process must not have the library open while another process writes to it.
    initial = subprocess.run(
        [sys.executable, "-m", "tests.support.crash_child", str(tmp_path / "data"), str(first), "run", "0"],
        cwd=ROOT, capture_output=True, check=False, text=True, timeout=1200, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert initial.returncode == 0 and "finished" in initial.stdout, initial.stderr[-2000:]
    run_and_kill(tmp_path / "data", revised, "after-registry", 1)
    lib = hashing_library(tmp_path / "data", embedder)
    left = lib.collection().problems()
    assert left["stale_chunks"] and not left["orphan_chunks"] and not left["incomplete_documents"]
    assert len(_check_reader_view(lib, rows)) == N_DOCS  # nothing vanished, each shows one version
    report = lib.ingest([revised])
    assert not report.problems and len(report.replaced) + len(report.unchanged) == N_DOCS and report.unchanged
    assert lib.collection().problems() == CLEAN
    hits = lib.search(rows[0]["text"][:200], k=3)
    assert hits[0].doc_id == rows[0]["id"]


def test_repair_cleans_what_no_ingest_will_revisit(corpus: tuple[Path, Path, list[dict]], tmp_path: Path, embedder: Embedder) -> None:
    first, _, _ = corpus
    run_and_kill(tmp_path / "data", first, "after-chunks", 1)
    lib = hashing_library(tmp_path / "data", embedder)
    registered = {s.doc_id for s in lib.sources()}
    found = lib.collection().repair()
    assert found["orphan_chunks"] > 0
    assert lib.collection().problems() == CLEAN
    assert {s.doc_id for s in lib.sources()} == registered


def _ingest_in_a_child(data_dir: Path, corpus: Path) -> None:
    """A whole ingest in a child process (this one must not hold the library open while another process writes)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.crash_child", str(data_dir), str(corpus), "run", "0"],
        cwd=ROOT, capture_output=True, check=False, text=True, timeout=1200, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0 and "finished" in done.stdout, done.stderr[-2000:]


def test_kill_while_replacing_at_an_arbitrary_moment(corpus: tuple[Path, Path, list[dict]], tmp_path: Path, embedder: Embedder) -> None:
    first, revised, rows = corpus
    _ingest_in_a_child(tmp_path / "data", first)
    run_and_kill(tmp_path / "data", revised, "run", 0, kill_at_done=N_DOCS // 2)
    _lock_is_free(tmp_path / "data")
    lib = hashing_library(tmp_path / "data", embedder)
    assert len(_check_reader_view(lib, rows)) == N_DOCS  # every document still there, one version each
    texts = lib.collection().document_texts([r["id"] for r in rows])
    n_revised = sum("(Revised edition.)" in t for t in texts.values())
    assert len(texts) == N_DOCS and 0 < n_revised < N_DOCS  # killed halfway: some replaced, the rest still the old version
    report = lib.ingest([revised])
    assert not report.problems and len(report.replaced) + len(report.unchanged) == N_DOCS
    assert lib.collection().problems() == CLEAN
    assert "(Revised edition.)" in (lib.document_text(rows[0]["id"]) or "")
    _answers(lib, rows[-1])


def test_kill_while_forgetting(corpus: tuple[Path, Path, list[dict]], tmp_path: Path, embedder: Embedder) -> None:
    first, _, rows = corpus
    _ingest_in_a_child(tmp_path / "data", first)
    run_and_kill(tmp_path / "data", first, "forget", 2)  # frozen in the third forget, registry entry gone, chunks not
    _lock_is_free(tmp_path / "data")
    lib = hashing_library(tmp_path / "data", embedder)
    gone = {r["id"] for r in rows[:3]}
    registered = _check_reader_view(lib, rows)  # hits only of registered documents
    assert registered == {r["id"] for r in rows} - gone
    left = lib.collection().problems()
    assert left["orphan_chunks"] and not left["stale_chunks"] and not left["incomplete_documents"]
    for row in rows[:3]:
        assert all(h.doc_id != row["id"] for h in lib.search(row["text"][:200], k=5))  # a forgotten document never shows
    assert lib.forget(rows[2]["id"]) is False  # forgetting it again finishes the job (its leftovers go)
    assert lib.collection().problems() == CLEAN
    assert len(lib.sources()) == N_DOCS - 3
