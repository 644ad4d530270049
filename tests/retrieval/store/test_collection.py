"""One library's writes and reads (retrieval.store.Collection) on a real on-disk Chroma in tmp_path.

Chunks come from the real chunker and vectors from the bundled model; leftovers of an interrupted
write are made the way a killed writer leaves them (rows written straight into Chroma's collections).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from retrieval.embedding import Embedder
from retrieval.errors import RagbotError
from retrieval.ingest.chunking import chunk_documents
from retrieval.settings import Settings
from retrieval.store import Collection, LibraryMissing, Neighbour, StoredChunk, open_client
from retrieval.text import indexed_text
from retrieval.types import Document

FERRY = Document("ferry", "ferry.txt", "Ferry timetable",
                 "The night ferry to Skerra leaves the north pier at ten. Tickets are sold on board. "
                 "The morning ferry returns at seven.", "2024-03-05")
BEES = Document("bees", "bees.txt", "Bees", "Honey bees dance to tell the hive where the flowers are.")
Item = tuple[Document, Sequence[Any], Sequence[str], np.ndarray]


@pytest.fixture
def client(settings: Settings) -> Any:
    return open_client(settings)


@pytest.fixture
def col(client: Any, embedder: Embedder) -> Collection:
    return Collection(client, "shelf", embedder.identity)


def items(embedder: Embedder, docs: Sequence[Document], max_tokens: int = 200) -> list[Item]:
    """What Library hands to write_documents: each document with its chunks, their texts and vectors."""
    out: list[Item] = []
    for doc, chunks in zip(docs, chunk_documents(docs, embedder.tokenizer, max_tokens, 0), strict=True):
        vectors = embedder.embed([indexed_text(doc.title, c.text) for c in chunks])
        out.append((doc, chunks, [c.text for c in chunks], vectors))
    return out


def test_written_documents_are_listed_with_their_metadata_and_text(col: Collection, embedder: Embedder) -> None:
    written = items(embedder, [FERRY, BEES])
    col.write_documents(written)
    listed = {s.doc_id: s for s in col.documents()}
    assert set(listed) == {"ferry", "bees"}
    ferry = listed["ferry"]
    assert (ferry.source, ferry.title, ferry.published, ferry.content_hash) == ("ferry.txt", "Ferry timetable", "2024-03-05", FERRY.content_hash)
    assert ferry.chunks == len(written[0][1]) and ferry.added_at
    assert col.count() == sum(len(chunks) for _, chunks, _, _ in written)
    assert col.document_text("ferry") == FERRY.text and col.document_text("nope") is None
    assert col.document_texts(["bees", "nope"]) == {"bees": BEES.text}


def test_all_chunks_are_stored_chunks_that_index_their_document(col: Collection, embedder: Embedder) -> None:
    col.write_documents(items(embedder, [FERRY, BEES], max_tokens=24))  # a small window: several chunks for the ferry
    stored = col.all_chunks(page=2)  # paged reads put the pages together
    assert all(isinstance(c, StoredChunk) for c in stored)
    by_doc = {d.doc_id: d for d in (FERRY, BEES)}
    assert len([c for c in stored if c.meta["doc_id"] == "ferry"]) > 1
    for c in stored:
        doc = by_doc[c.meta["doc_id"]]
        assert doc.text[c.meta["start"] : c.meta["end"]] == c.text
        assert c.meta["version"] == doc.content_hash and "text" not in c.meta
    assert len({c.chunk_id for c in stored}) == len(stored) == col.count()


def test_query_returns_neighbours_nearest_first(col: Collection, embedder: Embedder) -> None:
    assert col.query(embedder.embed(["anything"])[0], 5) == []  # an empty library
    written = items(embedder, [FERRY, BEES])
    col.write_documents(written)
    bee_vector = written[1][3][0]
    found = col.query(bee_vector, 10)
    assert all(isinstance(n, Neighbour) for n in found) and len(found) == col.count()  # n capped at what is there
    assert found[0].meta["doc_id"] == "bees" and found[0].similarity == pytest.approx(1.0, abs=1e-4)
    assert found[0].text == written[1][2][0]
    sims = [n.similarity for n in found]
    assert sims == sorted(sims, reverse=True)
    assert {n.meta["doc_id"] for n in col.query(bee_vector, 10, where={"doc_id": "ferry"})} == {"ferry"}
    assert [cid for cid, _ in col.nearest(bee_vector, 1)] == [found[0].chunk_id]


def test_stored_vectors_and_chunk_metas_read_back(col: Collection, embedder: Embedder) -> None:
    written = items(embedder, [BEES])
    col.write_documents(written)
    (chunk,) = written[0][1]
    got = col.vectors([chunk.chunk_id, "missing"])
    assert list(got) == [chunk.chunk_id] and np.allclose(got[chunk.chunk_id], written[0][3][0], atol=1e-6)
    text, meta = col.chunk_metas([chunk.chunk_id])[chunk.chunk_id]
    assert text == chunk.text and meta["title"] == "Bees"


def test_rewriting_a_changed_document_replaces_its_chunks_and_moves_the_version(col: Collection, embedder: Embedder) -> None:
    col.write_documents(items(embedder, [FERRY]))
    before, old_ids = col.version(), {c.chunk_id for c in col.all_chunks()}
    assert col.reflects(before)
    changed = Document(FERRY.doc_id, FERRY.source, FERRY.title, FERRY.text.replace("ten", "eleven"), FERRY.published)
    col.write_documents(items(embedder, [changed]))
    assert col.version() != before and col.reflects(col.version())
    now = col.all_chunks()
    assert not {c.chunk_id for c in now} & old_ids and all(c.meta["version"] == changed.content_hash for c in now)
    assert col.document_text("ferry") == changed.text and len(col.documents()) == 1


def test_delete_document_removes_it_and_its_chunks_once(col: Collection, embedder: Embedder) -> None:
    col.write_documents(items(embedder, [FERRY, BEES]))
    version = col.version()
    assert col.delete_document("ferry") is True
    assert [s.doc_id for s in col.documents()] == ["bees"] and {c.meta["doc_id"] for c in col.all_chunks()} == {"bees"}
    assert col.version() != version
    version = col.version()
    assert col.delete_document("ferry") is False and col.version() == version  # nothing there: nothing moved


def test_a_clean_library_has_no_problems_and_orphans_are_found_and_repaired(col: Collection, embedder: Embedder) -> None:
    col.write_documents(items(embedder, [FERRY]))
    assert col.problems() == {"orphan_chunks": [], "stale_chunks": [], "incomplete_documents": []}
    # A writer killed after storing its chunks, before the registry: chunks of a document nobody registered.
    (doc, chunks, texts, vectors), = items(embedder, [BEES])
    col.chunks.upsert(ids=[c.chunk_id for c in chunks], embeddings=vectors,
                      metadatas=[{"doc_id": "bees", "version": doc.content_hash, "start": c.start, "end": c.end, "text": t}
                                 for c, t in zip(chunks, texts, strict=True)])
    assert col.problems()["orphan_chunks"] == [c.chunk_id for c in chunks]
    assert col.repair() == {"orphan_chunks": len(chunks), "stale_chunks": 0, "incomplete_documents": 0}
    assert col.problems()["orphan_chunks"] == [] and {c.meta["doc_id"] for c in col.all_chunks()} == {"ferry"}


def test_stale_chunks_of_a_killed_replace_are_retired_by_reconcile(col: Collection, embedder: Embedder) -> None:
    old = items(embedder, [FERRY])
    col.write_documents(old)
    changed = Document(FERRY.doc_id, FERRY.source, FERRY.title, FERRY.text + " Bikes travel free.", FERRY.published)
    col.write_documents(items(embedder, [changed]))
    # The old version's chunks back in Chroma: a writer killed after the registry, before it deleted them.
    (_, chunks, texts, vectors), = old
    col.chunks.upsert(ids=[c.chunk_id for c in chunks], embeddings=vectors,
                      metadatas=[{"doc_id": "ferry", "version": FERRY.content_hash, "start": c.start, "end": c.end, "text": t}
                                 for c, t in zip(chunks, texts, strict=True)])
    assert col.problems()["stale_chunks"] == [c.chunk_id for c in chunks]
    assert col.reconcile(["ferry"]) == []  # the current version is whole: nothing to re-write
    assert col.problems() == {"orphan_chunks": [], "stale_chunks": [], "incomplete_documents": []}


def test_a_document_missing_chunks_is_incomplete_until_repaired(col: Collection, embedder: Embedder) -> None:
    written = items(embedder, [FERRY, BEES], max_tokens=24)
    col.write_documents(written)
    ferry_chunks = written[0][1]
    col.chunks.delete(ids=[ferry_chunks[-1].chunk_id])  # killed inside Chroma's write: one chunk short
    assert col.problems()["incomplete_documents"] == ["ferry"]
    assert col.reconcile(["ferry", "bees"]) == ["ferry"]  # the caller must write it again
    assert col.repair()["incomplete_documents"] == 1
    assert [s.doc_id for s in col.documents()] == ["bees"] and col.problems()["incomplete_documents"] == []


def test_opening_with_another_embedder_or_a_missing_library_is_one_sentence(client: Any, col: Collection, embedder: Embedder) -> None:
    col.write_documents(items(embedder, [BEES]))
    with pytest.raises(RagbotError, match=r"was embedded with .* set RAGBOT_EMBED_MODEL/RAGBOT_EMBED_BACKEND back"):
        Collection(client, "shelf", "some-other-model")
    with pytest.raises(LibraryMissing, match=r"There is no library called 'elsewhere' yet"):
        Collection(client, "elsewhere", embedder.identity, create=False)
    assert Collection(client, "shelf", embedder.identity, create=False).count() == col.count()
