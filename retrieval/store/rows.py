"""How chunks and registry rows sit in Chroma: texts in metadata, paged reads, and rows for the keyword index."""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from retrieval.minhash import Signature, signature
from retrieval.store.keyword_index import Row
from retrieval.types import Chunk, Document

# A chunk's text, and a registered document's full text, are stored in metadata under this key,
# not as Chroma's "document": the embedded store full-text indexes every document (SQLite FTS5
# trigrams) whatever the collection schema says, and ragbot never searches it that way (the
# cost is in docs/performance.md). Libraries that hold their texts as documents still read.
TEXT_KEY = "text"
# A registered document's full text, compressed (`pack_text`): a chunk stores no text of its own
# (its text is the document's text[start:end]), and the registry stores its document's text once,
# small enough that SQLite rarely spills it to overflow pages (docs/scale.md). Libraries written
# before keep plain texts under TEXT_KEY, in chunks and registry alike, and still read.
PACKED_KEY = "text_z"
# What a chunk borrows from its document's registry row (chunks written before carry their own).
DOC_FIELDS = ("source", "title", "published")


def pack_text(text: str) -> str:
    """A text as compact ASCII for Chroma metadata: zlib, then base85."""
    return base64.b85encode(zlib.compress(text.encode("utf-8", "surrogatepass"), 6)).decode("ascii")


def unpack_text(packed: str) -> str | None:
    """The text `pack_text` packed, or None when it is not such a string."""
    try:
        return zlib.decompress(base64.b85decode(packed)).decode("utf-8", "surrogatepass")
    except (ValueError, zlib.error, binascii.Error):
        return None



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
    """A chunk's or registry row's own text and its metadata without it (empty metadata: the row is gone).

    A chunk written now has no text of its own (None): `chunk_text` takes it from its document.
    The packed text wins over a plain one, and the metadata's over the Chroma document: a row
    upserted since keeps what the upsert was not given (an older text under another key).
    """
    if meta is None:
        return None, {}
    out = dict(meta)
    packed, text = out.pop(PACKED_KEY, None), out.pop(TEXT_KEY, None)
    if isinstance(packed, str):
        return unpack_text(packed), out
    return (text if isinstance(text, str) else document), out


def chunk_text(meta: Mapping[str, Any], registered: Mapping[str, tuple[dict[str, Any], str]]) -> tuple[str, dict[str, Any]] | None:
    """A text-less chunk's text and metadata from its document's registry row (meta, text).

    None when the registry holds another version of the document (the chunk's offsets index a
    text it no longer has: a write in progress, or a dead writer's leftover).
    """
    doc = registered.get(str(meta.get("doc_id")))
    if doc is None or str(doc[0].get("content_hash", "")) != str(meta.get("version", "")):
        return None
    start, end = int(meta.get("start", 0)), int(meta.get("end", 0))
    return doc[1][start:end], {**{k: doc[0][k] for k in DOC_FIELDS if k in doc[0]}, **meta}


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



def doc_signature(meta: Mapping[str, Any], text: str) -> Signature:
    """A registered document's MinHash signature: from its registry row (libraries written before keep one there), or its text."""
    return Signature.decode(str(meta.get("minhash", ""))) or signature(text)
