"""The on-disk keyword index: reused by a fresh process, updated per document, idf from its document frequencies."""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from retrieval.library import Library
from retrieval.store import keyword_sync
from retrieval.store.keyword_index import unpack
from retrieval.terms import terms
from retrieval.types import Document

ZEBRA = Document("zebra", "zebra.txt", "Zebras", "Quagga zebras graze on the Karoo plains.")


def _no_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the keyword index was rebuilt from every chunk")

    monkeypatch.setattr(keyword_sync, "rebuild", refuse)


def _spy_resync(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record which documents each catch-up re-reads from Chroma."""
    calls: list[list[str]] = []
    original = keyword_sync.resync

    def spy(index: Any, col: Any, doc_ids: list[str]) -> int:
        calls.append(list(doc_ids))
        return original(index, col, doc_ids)

    monkeypatch.setattr(keyword_sync, "resync", spy)
    return calls


def _index_matches_chroma(lib: Library) -> None:
    """The index holds exactly the registered version of every document, as Chroma does."""
    col = lib.collection()
    assert col.index is not None
    registry = col.current_versions()
    assert col.index.versions(sorted(registry)) == {d: v for d, (v, _) in registry.items()}
    assert col.index.chunk_ids() == set(col.chunks.get(include=[])["ids"])


def test_a_fresh_library_uses_the_index_on_disk(sample_library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second Library (a new process, in effect) answers from the same index file without reading every chunk."""
    hits = sample_library.search("Who did Belousov meet on Tuesday?")
    files = list((sample_library.settings.data_dir / "keyword").glob("*.sqlite3"))
    assert len(files) == 1
    fresh = Library(sample_library.settings, embedder=sample_library.embedder)
    _no_rebuild(monkeypatch)
    again = fresh.search("Who did Belousov meet on Tuesday?")
    assert [(h.chunk_id, h.score) for h in again] == [(h.chunk_id, h.score) for h in hits]


def test_a_moved_data_dir_keeps_its_index(sample_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index file is named after the Chroma collection, not the folder's path: a data dir moved elsewhere is not reindexed."""
    hits = sample_library.search("Who did Belousov meet on Tuesday?")
    sample_library.close()
    moved = tmp_path / "elsewhere" / "data"
    moved.parent.mkdir()
    shutil.move(str(sample_library.settings.data_dir), moved)
    settings = sample_library.settings.model_copy(update={"data_dir": moved})
    fresh = Library(settings, embedder=sample_library.embedder)
    _no_rebuild(monkeypatch)
    again = fresh.search("Who did Belousov meet on Tuesday?")
    assert [(h.chunk_id, h.score) for h in again] == [(h.chunk_id, h.score) for h in hits]
    assert len(list((moved / "keyword").glob("*.sqlite3"))) == 1
    fresh.close()


def test_an_index_named_after_the_folder_path_is_still_used(sample_library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library indexed before the index was named after its collection keeps its index file (no rebuild)."""
    sample_library.close()
    folder = sample_library.settings.data_dir / "keyword"
    [current] = folder.glob("*.sqlite3")
    location = str((sample_library.settings.data_dir / "chroma").resolve())
    name = sample_library.settings.collection
    legacy = folder / f"{name[:40]}-{hashlib.sha256(f'{location}|{name}'.encode()).hexdigest()[:16]}.sqlite3"
    current.rename(legacy)
    fresh = Library(sample_library.settings, embedder=sample_library.embedder)
    _no_rebuild(monkeypatch)
    assert fresh.search("Who did Belousov meet on Tuesday?")
    assert list(folder.glob("*.sqlite3")) == [legacy]
    fresh.close()


def test_adding_a_document_reads_only_that_document(sample_library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's ingest of one document costs a reader the re-read of that document, no rebuild."""
    reader = sample_library
    reader.search("Belousov")
    writer = Library(reader.settings, embedder=reader.embedder)
    _no_rebuild(monkeypatch)
    calls = _spy_resync(monkeypatch)
    writer.ingest_documents([ZEBRA])
    hits = reader.search("quagga karoo")
    assert hits[0].doc_id == "zebra" and hits[0].text == ZEBRA.text
    assert all(set(c) <= {"zebra"} for c in calls)
    _index_matches_chroma(reader)


def test_forgetting_a_document_removes_only_it(sample_library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = sample_library
    lib.ingest_documents([ZEBRA])
    before = {h.doc_id for h in lib.search("Belousov", k=10)}
    _no_rebuild(monkeypatch)
    calls = _spy_resync(monkeypatch)
    other = Library(lib.settings, embedder=lib.embedder)
    assert other.forget("zebra")
    assert all(h.doc_id != "zebra" for h in lib.search("quagga karoo zebras", k=10))
    assert {h.doc_id for h in lib.search("Belousov", k=10)} == before - {"zebra"}
    assert all(set(c) <= {"zebra"} for c in calls)
    _index_matches_chroma(lib)


def test_replacing_a_document_keeps_one_version(sample_library: Library) -> None:
    lib = sample_library
    lib.ingest_documents([ZEBRA])
    changed = Document(ZEBRA.doc_id, ZEBRA.source, ZEBRA.title, ZEBRA.text.replace("Karoo", "Serengeti"))
    assert Library(lib.settings, embedder=lib.embedder).ingest_documents([changed]).replaced == ["zebra"]
    hits = [h for h in lib.search("quagga zebras graze plains", k=10) if h.doc_id == "zebra"]
    assert [h.text for h in hits] == [changed.text]
    _index_matches_chroma(lib)


def test_idf_comes_from_document_frequencies(sample_library: Library) -> None:
    lib = sample_library
    lib.ingest_documents([ZEBRA, Document("zebra2", "z2.txt", "More zebras", "Zebras drink at dusk.")])
    lib.search("zebras")
    index = lib.collection().index
    assert index is not None
    n = len(index)
    (zebra,) = terms("zebras")
    assert index.idf(zebra) == pytest.approx(math.log1p((n - 2 + 0.5) / 2.5))
    assert index.idf("neverseenword") == pytest.approx(math.log1p((n + 0.5) / 0.5))


def test_terms_with_any_characters_are_one_token(library: Library) -> None:
    """Analysed terms the FTS5 tokenizer would split or fold (accents, underscores) still match exactly."""
    library.ingest_documents([
        Document("cafe", "c.txt", "Café", "The café_owner Zoë serves crème brûlée."),
        Document("plain", "p.txt", "Cafe", "The cafe owner Zoe serves creme brulee."),
    ])
    hits = library.search("crème brûlée Zoë", k=2)
    assert hits[0].doc_id == "cafe" and hits[0].keyword and hits[0].keyword > (hits[1].keyword or 0.0)


def test_chunk_texts_are_stored_packed_and_plain_ones_written_before_still_read(library: Library) -> None:
    text = "Quagga zebras graze on the Karoo plains. " * 12
    library.ingest_documents([Document("zebra", "zebra.txt", "Zebras", text)])
    index = library.collection().index
    assert index is not None
    raw = index._db.execute("SELECT chunk_id, text FROM chunk").fetchall()
    assert raw and all(isinstance(t, bytes) and len(t) < len(unpack(t)) / 2 for _, t in raw)
    # An index written before holds plain text: it reads, searches and forgets the same.
    with index.transaction():
        index._db.executemany("UPDATE chunk SET text = ? WHERE chunk_id = ?", [(unpack(t), c) for c, t in raw])
    rows = index.rows([c for c, _ in raw])
    assert [rows[c].text for c, _ in raw] == [unpack(t) for _, t in raw] and rows[raw[0][0]].text.startswith("Quagga")
    assert library.search("Where do quagga zebras graze?", k=1)[0].doc_id == "zebra"
    library.forget("zebra")
    assert index.search(terms("quagga zebras"), 5) == [] and len(index) == 0


def test_closing_folds_the_write_ahead_log_into_the_index(library: Library) -> None:
    library.ingest_documents([ZEBRA])
    folder = library.settings.data_dir / "keyword"
    assert list(folder.glob("*-wal"))  # open: the writes sit in the log
    library.close()
    assert not list(folder.glob("*-wal")) and [p.suffix for p in folder.iterdir()] == [".sqlite3"]
    assert library.search("Where do quagga zebras graze?", k=1)[0].doc_id == "zebra"  # opened again on use


def test_a_search_matches_the_rarest_terms_within_its_postings_budget(library: Library) -> None:
    """Common terms whose postings would pass the budget are left out of the match; the rarest term always stays."""
    ferries = [Document(f"f{i}", f"f{i}.txt", "Ferries", f"The ferry number {i} sails at dawn.") for i in range(12)]
    gulls = [Document(f"g{i}", f"g{i}.txt", "Gulls", f"Gulls nest on cliff number {i}.") for i in range(13)]  # ferry in half the chunks
    library.ingest_documents([*ferries, *gulls, Document("storn", "s.txt", "Isles", "The night ferry to Stornoway sails at eleven.")], duplicates="keep")
    index = library.collection().index
    assert index is not None
    query = terms("Stornoway ferry, the Stornoway ferry")
    stornoway, ferry = terms("Stornoway ferry")
    assert index.doc_frequency(stornoway) == 1 and index.doc_frequency(ferry) == 13
    assert index.matched_terms(query) == query  # the default budget holds every term here
    assert index.matched_terms(query, budget=10) == [stornoway, stornoway]  # order and repeats kept
    assert index.matched_terms([ferry], budget=10) == [ferry]  # nothing rarer: the rarest stays
    full = index.search(query, 20)
    within = index.search(query, 20, budget=10)
    assert len(full) == 13 and index.rows([full[0][0]])[full[0][0]].doc_id == "storn"
    assert [c for c, _ in within] == [full[0][0]]
