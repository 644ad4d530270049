"""After a SIGKILL mid-ingest, the keyword index and Chroma agree once the library is opened again.

Neither side may hold chunks the other lacks: chunks Chroma stored for a write that never
reached the registry, old chunks a killed write did not delete, and documents Chroma holds but
the index never heard of (killed between Chroma's write and the index's) are all reconciled on
the next open, by reading only the documents named in the change log's unfinished writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retrieval.embedding import Embedder
from retrieval.library import Library
from retrieval.store import keyword_sync
from tests.support.crash import hashing_library, run_and_kill
from tests.support.paths import ROOT

N_DOCS = 1100  # two ingest batches of at most 1,024 documents


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    rows = [json.loads(line) for line in (shared_data / "squad-v1.1-dev" / "passages.jsonl").open()][:N_DOCS]
    path = tmp_path_factory.mktemp("kwcorpus") / "passages.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _reader_view(lib: Library) -> None:
    """The keyword index holds exactly the chunks of each registered document's current version.

    A question never writes to Chroma (a reader may not), so a killed writer's leftovers stay
    there, unseen, until the next write cleans them up.
    """
    col = lib.collection()
    assert col.index is not None
    registry = col.current_versions()
    got = col.chunks.get(include=["metadatas"])
    current = {cid for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True)
               if meta and meta.get("doc_id") in registry and registry[str(meta["doc_id"])][0] == meta.get("version")}
    assert col.index.chunk_ids() == current
    assert col.index.versions(sorted(registry)) == {d: v for d, (v, _) in registry.items()}


def _agree(lib: Library) -> None:
    col = lib.collection()
    assert col.index is not None
    registry = col.current_versions()
    chroma_ids = set(col.chunks.get(include=[])["ids"])
    assert col.index.chunk_ids() == chroma_ids
    assert col.index.versions(sorted(registry)) == {d: v for d, (v, _) in registry.items()}
    assert col.problems() == {"orphan_chunks": [], "stale_chunks": [], "incomplete_documents": []}


@pytest.mark.parametrize("mode", ["after-chunks", "after-write"])
def test_index_and_chroma_agree_after_a_kill(mode: str, small_corpus: Path, tmp_path: Path, embedder: Embedder,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pause = 1 if mode == "after-chunks" else 2
    run_and_kill(tmp_path / "data", small_corpus, mode, pause)
    lib = hashing_library(tmp_path / "data", embedder)
    col = lib.collection()
    assert col.index is not None
    before = col.problems()
    if mode == "after-chunks":
        assert before["orphan_chunks"], "the kill should have left chunks without registry entries"
    else:
        assert not any(before.values())
        missing = set(col.chunks.get(include=[])["ids"]) - col.index.chunk_ids()
        assert missing, "the kill should have left chunks in Chroma that the index lacks"

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("reconciling rebuilt the whole index")

    monkeypatch.setattr(keyword_sync, "rebuild", refuse)
    lib.search("What is the capital?", k=3)  # the first question opens the library
    _reader_view(lib)
    assert lib.collection().problems() == before  # and leaves Chroma alone
    report = lib.ingest([small_corpus])
    assert not report.problems and len(lib.sources()) == N_DOCS
    _agree(lib)


def test_index_and_chroma_agree_after_a_kill_while_replacing(small_corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    import os
    import subprocess
    import sys

    first = subprocess.run(
        [sys.executable, "-m", "tests.support.crash_child", str(tmp_path / "data"), str(small_corpus), "run", "0"],
        cwd=ROOT, capture_output=True, check=False, text=True, timeout=1200, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert first.returncode == 0, first.stderr[-2000:]
    revised = tmp_path / "revised.jsonl"
    revised.write_text("".join(json.dumps({**json.loads(line), "text": json.loads(line)["text"] + " (Revised.)"}) + "\n"
                               for line in small_corpus.open()))
    run_and_kill(tmp_path / "data", revised, "after-registry", 1)
    lib = hashing_library(tmp_path / "data", embedder)
    assert lib.collection().problems()["stale_chunks"]
    lib.search("What is the capital?", k=3)
    _reader_view(lib)
    assert lib.collection().problems()["stale_chunks"]  # a question does not write
    lib.ingest([revised])  # the next write cleans up
    _agree(lib)
