"""How chunks and registry rows sit in Chroma: texts in metadata, paged reads, and rows for the keyword index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from retrieval.store.keyword_index import Row
from retrieval.types import Chunk, Document

# A chunk's text, and a registered document's full text, are stored in metadata under this key,
# not as Chroma's "document": the embedded store full-text indexes every document (SQLite FTS5
# trigrams) whatever the collection schema says, and ragbot never searches it that way (the
# cost is in docs/performance.md). Libraries that hold their texts as documents still read.
TEXT_KEY = "text"



class Neighbour(NamedTuple):
    """A chunk found by vector similarity: its id, stored text, metadata and cosine similarity."""

    chunk_id: str
    text: str
    meta: dict[str, Any]
    similarity: float


class StoredChunk(NamedTuple):
    """A chunk as stored: its id, indexed text and metadata."""

    chunk_id: str
    text: str
    meta: dict[str, Any]


def of_documents(doc_ids: Sequence[str]) -> dict[str, Any]:
    """A Chroma `where` filter for the chunks of these documents."""
    return {"doc_id": {"$in": list(doc_ids)}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}


def text_and_meta(document: str | None, meta: Mapping[str, Any] | None) -> tuple[str | None, dict[str, Any]]:
    """A chunk's or registry row's text and its metadata without the text (text None: the row is gone).

    The metadata's text wins: a row stored with its text as the Chroma document and upserted
    since keeps that document (an upsert leaves out what it is not given).
    """
    if meta is None:
        return None, {}
    out = dict(meta)
    text = out.pop(TEXT_KEY, None)
    return (text if isinstance(text, str) else document), out


def get_all(col: Any, include: list[str], page: int = 2000) -> dict[str, list[Any]]:
    """Every row of a Chroma collection, read a page at a time (one huge read overflows SQLite's variable limit)."""
    out: dict[str, list[Any]] = {"ids": [], **{k: [] for k in include}}
    offset = 0
    while True:
        got = col.get(include=include, limit=page, offset=offset)
        out["ids"] += got["ids"]
        for k in include:
            out[k] += list(got.get(k) or [])
        if len(got["ids"]) < page:
            return out
        offset += page


def row(doc: Document, chunk: Chunk, text: str) -> Row:
    """A chunk as the keyword index holds it."""
    return Row(chunk.chunk_id, doc.doc_id, doc.source, doc.title, doc.published or "", chunk.start, chunk.end, chunk.ordinal, text)


def meta_row(chunk_id: str, text: str, meta: Mapping[str, Any]) -> Row:
    """A stored chunk (its text and metadata) as the keyword index holds it."""
    return Row(
        chunk_id, str(meta.get("doc_id")), str(meta.get("source", "")), str(meta.get("title", "")), str(meta.get("published") or ""),
        int(meta.get("start", 0)), int(meta.get("end", 0)), int(meta.get("ordinal", 0)), text,
    )

