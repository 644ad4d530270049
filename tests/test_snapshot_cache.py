"""The keyword snapshot cached on disk: reused by a fresh process, never stale after a write."""

from __future__ import annotations

from retrieval.library import Library
from retrieval.types import Document


def test_a_fresh_library_loads_the_cached_snapshot(sample_library: Library, monkeypatch) -> None:
    """A second Library (a new process, in effect) answers from the cached index without reading every chunk."""
    hits = sample_library.search("Who did Belousov meet on Tuesday?")
    folder = sample_library.settings.data_dir / "keyword-cache"
    assert len(list(folder.glob("*.pkl"))) == 1

    fresh = Library(sample_library.settings, embedder=sample_library.embedder)
    col = fresh.collection()
    monkeypatch.setattr(col, "all_chunks", lambda *a, **k: (_ for _ in ()).throw(AssertionError("index was rebuilt")))
    again = fresh.search("Who did Belousov meet on Tuesday?")
    assert [h.chunk_id for h in again] == [h.chunk_id for h in hits]


def test_a_write_makes_the_cached_snapshot_stale(sample_library: Library) -> None:
    """After an ingest bumps the collection's version, the next search indexes the new document and the old file goes."""
    sample_library.search("Belousov")
    folder = sample_library.settings.data_dir / "keyword-cache"
    before = {p.name for p in folder.glob("*.pkl")}
    sample_library.ingest_documents([Document("zebra", "zebra.txt", "Zebras", "Quagga zebras graze on the Karoo plains.")])
    fresh = Library(sample_library.settings, embedder=sample_library.embedder)
    assert fresh.search("quagga karoo")[0].doc_id == "zebra"
    after = {p.name for p in folder.glob("*.pkl")}
    assert len(after) == 1 and after != before
