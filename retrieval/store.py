"""Chroma, on disk or as a server: chunks with their vectors, and a registry of documents.

Each library is two Chroma collections: `NAME` holds the chunks (vector, indexed text,
metadata) and `NAME--docs` one record per document (its full text and metadata). The
chunks collection's metadata records which embedder filled it and a version token that
changes on every write, so keyword indexes know when to rebuild.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from retrieval.errors import RagbotError
from retrieval.settings import Settings
from retrieval.types import Chunk, Document, SourceInfo

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}[a-zA-Z0-9]$")
_DOCS_SUFFIX = "--docs"


def open_client(settings: Settings) -> Any:
    """A Chroma client for these settings: HttpClient when RAGBOT_CHROMA_URL is set, else on disk."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise RagbotError(f"RAGBOT_CHROMA_URL must look like http://host:port, not {settings.chroma_url!r}.")
        headers = {}
        if settings.chroma_token:
            headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                headers=headers,
                settings=chroma_settings,
            )
        except Exception as exc:
            raise RagbotError(f"Could not reach the Chroma server at {settings.chroma_url} (RAGBOT_CHROMA_URL): {exc}") from exc
    path = settings.data_dir / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise RagbotError(f"Could not open the library in {path} (RAGBOT_DATA_DIR): {exc}") from exc


def check_name(name: str) -> str:
    """Validate a collection name (3-62 characters: letters, digits, dot, dash, underscore)."""
    if not _NAME.match(name) or ".." in name or name.endswith(_DOCS_SUFFIX):
        raise RagbotError(f"{name!r} is not a valid collection name: use 3-62 letters, digits, '.', '-' or '_'.")
    return name


class Collection:
    """One library: its chunks (with vectors) and its document registry."""

    def __init__(self, client: Any, name: str, embedder_identity: str, create: bool = True) -> None:
        self.name = check_name(name)
        self.client = client
        self.embedder_identity = embedder_identity
        self._lock = threading.Lock()
        try:
            if create:
                self.chunks = client.get_or_create_collection(
                    name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"embedder": embedder_identity, "version": uuid.uuid4().hex},
                )
                self.docs = client.get_or_create_collection(
                    name + _DOCS_SUFFIX, embedding_function=None, metadata={"kind": "documents"}
                )
            else:
                self.chunks = client.get_collection(name, embedding_function=None)
                self.docs = client.get_collection(name + _DOCS_SUFFIX, embedding_function=None)
        except RagbotError:
            raise
        except Exception as exc:
            if not create:
                raise RagbotError(f"There is no library called {name!r} yet: ingest something into it first.") from exc
            raise RagbotError(f"Could not open the library {name!r}: {exc}") from exc
        stored = (self.chunks.metadata or {}).get("embedder")
        if stored and stored != embedder_identity:
            raise RagbotError(
                f"The library {name!r} was embedded with {stored}, but the configured embedder is "
                f"{embedder_identity}: set RAGBOT_EMBED_MODEL/RAGBOT_EMBED_BACKEND back, or ingest into a new collection."
            )

    # -- versions -----------------------------------------------------------------------------
    def version(self) -> str:
        """A token that changes whenever chunks are written or deleted (read fresh from Chroma)."""
        col = self.client.get_collection(self.name, embedding_function=None)
        return str((col.metadata or {}).get("version", ""))

    def _bump(self) -> None:
        meta = dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})
        meta["version"] = uuid.uuid4().hex
        meta["embedder"] = self.embedder_identity
        meta.pop("hnsw:space", None)
        self.chunks.modify(metadata=meta)

    # -- documents ----------------------------------------------------------------------------
    def document_meta(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Registry metadata for these documents (missing ones are absent)."""
        if not doc_ids:
            return {}
        got = self.docs.get(ids=list(doc_ids), include=["metadatas"])
        return {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)}

    def document_text(self, doc_id: str) -> str | None:
        """The stored full text of a document."""
        got = self.docs.get(ids=[doc_id], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    def write_document(self, doc: Document, chunks: Sequence[Chunk], texts: Sequence[str], vectors: np.ndarray) -> None:
        """Write a document's new chunks, point the registry at them, then retire the old version."""
        version = doc.content_hash
        batch = max(1, min(getattr(self.client, "get_max_batch_size", lambda: 5000)(), 5000))
        for lo in range(0, len(chunks), batch):
            part = chunks[lo : lo + batch]
            self.chunks.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[lo : lo + batch],
                documents=list(texts[lo : lo + batch]),
                metadatas=[
                    {
                        "doc_id": c.doc_id,
                        "source": doc.source,
                        "title": doc.title,
                        "start": c.start,
                        "end": c.end,
                        "ordinal": c.ordinal,
                        "version": version,
                        "published": doc.published or "",
                    }
                    for c in part
                ],
            )
        self.docs.upsert(
            ids=[doc.doc_id],
            embeddings=[[1.0]],
            documents=[doc.text],
            metadatas=[
                {
                    "source": doc.source,
                    "title": doc.title,
                    "published": doc.published or "",
                    "content_hash": version,
                    "chunks": len(chunks),
                    "added_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                }
            ],
        )
        self.chunks.delete(where={"$and": [{"doc_id": doc.doc_id}, {"version": {"$ne": version}}]})
        self._bump()

    def delete_document(self, doc_id: str) -> bool:
        """Remove a document and its chunks; False when it was not there."""
        known = bool(self.docs.get(ids=[doc_id], include=[])["ids"])
        self.docs.delete(ids=[doc_id])
        self.chunks.delete(where={"doc_id": doc_id})
        if known:
            self._bump()
        return known

    def documents(self) -> list[SourceInfo]:
        """Every document in the library, oldest first."""
        got = self.docs.get(include=["metadatas"])
        out = [
            SourceInfo(
                doc_id=i,
                source=str(m.get("source", "")),
                title=str(m.get("title", "")),
                published=str(m.get("published")) or None,
                added_at=str(m.get("added_at", "")),
                chunks=int(m.get("chunks", 0)),
                content_hash=str(m.get("content_hash", "")),
            )
            for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
        ]
        return sorted(out, key=lambda s: (s.added_at, s.doc_id))

    # -- chunks -------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of chunks."""
        return int(self.chunks.count())

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, str, dict[str, Any], float]]:
        """Nearest chunks by cosine: (chunk_id, text, metadata, similarity)."""
        total = self.count()
        if total == 0:
            return []
        res = self.chunks.query(
            query_embeddings=[vector], n_results=min(n, total), where=where, include=["documents", "metadatas", "distances"]
        )
        return [
            (i, t, dict(m), 1.0 - float(d))
            for i, t, m, d in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True)
        ]

    def get_chunks(self, ids: Sequence[str], embeddings: bool = False) -> dict[str, tuple[str, dict[str, Any], np.ndarray | None]]:
        """Chunks by id: text, metadata and (optionally) vector."""
        if not ids:
            return {}
        include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
        got = self.chunks.get(ids=list(ids), include=include)
        vecs = got.get("embeddings") if embeddings else None
        return {
            i: (t, dict(m), (np.asarray(vecs[n], dtype=np.float32) if vecs is not None else None))
            for n, (i, t, m) in enumerate(zip(got["ids"], got["documents"], got["metadatas"], strict=True))
        }

    def all_chunks(self, page: int = 5000) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every chunk's id, indexed text and metadata (paged reads)."""
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        offset = 0
        while True:
            got = self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            ids += got["ids"]
            texts += got["documents"]
            metas += [dict(m) for m in got["metadatas"]]
            if len(got["ids"]) < page:
                return ids, texts, metas
            offset += page
