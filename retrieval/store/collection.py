"""`Collection`: one library in Chroma, its chunks (vectors, indexed text, metadata) and its document registry."""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from retrieval.embedding import sentences
from retrieval.errors import RagbotError
from retrieval.minhash import Signature
from retrieval.store.changelog import ChangeLog
from retrieval.store.client import DOCS_SUFFIX, LibraryMissing, check_name, describe_error
from retrieval.store.consistency import Consistency
from retrieval.store.keyword_index import KeywordIndex
from retrieval.store.rows import (
    PACKED_KEY,
    TEXT_KEY,
    Neighbour,
    StoredChunk,
    chunk_text,
    doc_signature,
    get_all,
    of_documents,
    pack_text,
    row,
    text_and_meta,
)
from retrieval.types import Chunk, Document, SourceInfo

# What each process-wide Chroma system (one per path, shared by every client in the process) holds
# in memory: the collection versions its vector index reflects. Another process's write moves the
# version without touching this process's index, which then silently lacks the new vectors.
_VIEWS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()



class Collection(Consistency):
    """One library: its chunks (with vectors) and its document registry."""

    def __init__(
        self, client: Any, name: str, embedder_identity: str, create: bool = True, index: KeywordIndex | None = None,
        shared: bool = False,
    ) -> None:
        self.name = check_name(name)
        self.client = client
        self.embedder_identity = embedder_identity
        self.index = index  # the keyword index a write here updates at once (others catch up from the log)
        self.shared = shared  # a Chroma server: other machines may write too
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
                    name + DOCS_SUFFIX, embedding_function=None, metadata={"kind": "documents"}
                )
            else:
                self.chunks = client.get_collection(name, embedding_function=None)
                self.docs = client.get_collection(name + DOCS_SUFFIX, embedding_function=None)
        except RagbotError:
            raise
        except Exception as exc:
            from chromadb.errors import NotFoundError

            if not create and isinstance(exc, NotFoundError):
                raise LibraryMissing(f"There is no library called {name!r} yet: ingest something into it first.") from exc
            raise RagbotError(f"Could not open the library {name!r}: {describe_error(exc)}") from exc
        self.log = ChangeLog(client, name)
        if not shared:
            _VIEWS.setdefault(client._system, {}).setdefault(self.name, str((self.chunks.metadata or {}).get("version", "")))
        stored = (self.chunks.metadata or {}).get("embedder")
        if stored and stored != embedder_identity:
            raise RagbotError(
                f"The library {name!r} was embedded with {stored}, but the configured embedder is "
                f"{embedder_identity}: set RAGBOT_EMBED_MODEL/RAGBOT_EMBED_BACKEND back, or ingest into a new collection."
            )

    def version(self) -> str:
        """A token that changes whenever chunks are written or deleted (read fresh from Chroma)."""
        col = self.client.get_collection(self.name, embedding_function=None)
        return str((col.metadata or {}).get("version", ""))

    def reflects(self, version: str) -> bool:
        """Whether this process's in-memory vector index holds the collection at `version` (always, on a server)."""
        return self.shared or _VIEWS.get(self.client._system, {}).get(self.name) == version

    def _bump(self) -> None:
        meta = dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})
        meta["version"] = uuid.uuid4().hex
        meta["embedder"] = self.embedder_identity
        meta.pop("hnsw:space", None)
        self.chunks.modify(metadata=meta)
        if not self.shared:
            _VIEWS.setdefault(self.client._system, {})[self.name] = meta["version"]

    def document_meta(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Registry metadata for these documents (missing ones are absent)."""
        if not doc_ids:
            return {}
        got = self.docs.get(ids=list(doc_ids), include=["metadatas"])
        return {i: text_and_meta(None, m)[1] for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)}

    def document_text(self, doc_id: str) -> str | None:
        """The stored full text of a document."""
        return self.document_texts([doc_id]).get(doc_id)

    def document_texts(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """The stored full texts of these documents (missing ones are absent).

        Like a chunk's, a document's text sits in its registry metadata (a library may
        hold it as the Chroma document: read either).
        """
        return {i: text for i, (_, text) in self.registered(doc_ids).items()}

    def registered(self, doc_ids: Sequence[str]) -> dict[str, tuple[dict[str, Any], str]]:
        """These documents' registry rows: metadata and full text (missing ones are absent)."""
        out: dict[str, tuple[dict[str, Any], str]] = {}
        for i, d, m in self._registry_rows(doc_ids, with_texts=True):
            text, meta = text_and_meta(d, m)
            if text is not None:
                out[i] = (meta, text)
        return out

    def registered_meta(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """These documents' registry metadata without their texts, which are not decoded (missing ones are absent)."""
        return {
            i: {k: v for k, v in m.items() if k not in (PACKED_KEY, TEXT_KEY)}
            for i, _, m in self._registry_rows(doc_ids, with_texts=False)
            if m
        }

    def _registry_rows(self, doc_ids: Sequence[str], with_texts: bool) -> Iterator[tuple[str, str | None, Any]]:
        """(id, Chroma document, metadata) of these documents' registry rows, 1,000 ids per read."""
        ids = list(dict.fromkeys(doc_ids))
        include = ["documents", "metadatas"] if with_texts else ["metadatas"]
        for lo in range(0, len(ids), 1000):
            got = self.docs.get(ids=ids[lo : lo + 1000], include=include)
            metas = got["metadatas"] or []
            yield from zip(got["ids"], got.get("documents") or [None] * len(metas), metas, strict=True)

    def with_texts(self, ids: Sequence[str], documents: Sequence[str | None] | None, metas: Sequence[Any] | None) -> list[StoredChunk]:
        """Chunks as Chroma returned them, each with its text (from its document's registry row when it has none).

        Rows deleted meanwhile, or whose document is registered at another version, are left out.
        """
        own = [(i, *text_and_meta(d, m)) for i, d, m in zip(ids, documents or [None] * len(ids), metas or [], strict=True)]
        need = [str(meta.get("doc_id")) for _, text, meta in own if text is None and meta]
        registered = self.registered(need) if need else {}
        out: list[StoredChunk] = []
        for cid, text, meta in own:
            if not meta:
                continue
            if text is None:
                found = chunk_text(meta, registered)
                if found is None:
                    continue
                text, meta = found
            out.append(StoredChunk(cid, text, meta))
        return out

    def write_documents(
        self,
        items: Sequence[tuple[Document, Sequence[Chunk], Sequence[str], np.ndarray]],
        registry_extra: Mapping[str, Mapping[str, Any]] | None = None,
        sentence_vectors: Mapping[str, np.ndarray] | None = None,
        signatures: Mapping[str, Signature] | None = None,
    ) -> None:
        """Write several documents at once: new chunks, then the registry, then retire old versions.

        `registry_extra` adds metadata per document; `sentence_vectors` (per chunk id) go to the
        keyword index for a local library, into the chunks' metadata on a server (every process reads them there).
        `signatures` (per document, MinHash) go to the keyword index only, for the near-duplicate
        check; a document without one gets it from its text. The registry keeps none: every
        process's index can make one from the registry's text (`doc_signature`).

        The same steps as one document at a time, but a handful of Chroma calls per batch instead
        of five per document (each Chroma write is its own SQLite transaction).
        """
        items = [it for it in items if len(it[1])]
        if not items:
            return
        local_sentences = self.index is not None and not self.shared
        blobs = {cid: sentences.to_bytes(v) for cid, v in (sentence_vectors or {}).items()} if local_sentences else {}
        chunk_extra = {} if local_sentences else {cid: sentences.metadata(v) for cid, v in (sentence_vectors or {}).items()}
        write_id = self.log.new_write()
        intent = self.log.append("intent", write_id, [doc.doc_id for doc, *_ in items])
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        for doc, chunks, texts, _ in items:
            version = doc.content_hash
            ids += [c.chunk_id for c in chunks]
            metas += [
                {
                    # No text, source, title or date: the registry row has them once (`with_texts`).
                    "doc_id": c.doc_id,
                    "start": c.start,
                    "end": c.end,
                    "ordinal": c.ordinal,
                    "version": version,
                    **chunk_extra.get(c.chunk_id, {}),
                }
                for c in chunks
            ]
        vectors = np.concatenate([np.asarray(it[3], dtype=np.float32) for it in items])
        batch = self._max_batch()
        for lo in range(0, len(ids), batch):
            self.chunks.upsert(
                ids=ids[lo : lo + batch],
                embeddings=vectors[lo : lo + batch],
                metadatas=metas[lo : lo + batch],
            )
        # A new version token after each step: a reader's keyword index caught up before a step
        # (in this process or another one) looks at the change log again after it. Its rows then
        # always exist, so a document cannot vanish between the delete and the final bump.
        self._bump()
        added_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.docs.upsert(
            ids=[doc.doc_id for doc, *_ in items],
            embeddings=np.ones((len(items), 1), dtype=np.float32),
            # The full text in metadata, not as the Chroma document: the embedded store indexes
            # every document for full-text search (half the registry write's time), which ragbot
            # never uses (it keeps its own keyword index of the chunks). Packed: it is the only copy
            # in Chroma, and the chunks' texts are slices of it.
            metadatas=[
                {
                    PACKED_KEY: pack_text(doc.text),
                    "source": doc.source,
                    "title": doc.title,
                    "published": doc.published or "",
                    "content_hash": doc.content_hash,
                    "chunks": len(chunks),
                    "added_at": added_at,
                    **(registry_extra or {}).get(doc.doc_id, {}),
                }
                for doc, chunks, *_ in items
            ],
        )
        self._bump()
        # Retire every other chunk of these documents (a chunk's id names its document's version,
        # so ids alone tell: no metadata is read back).
        doc_ids = [doc.doc_id for doc, *_ in items]
        where = of_documents(doc_ids)
        written = set(ids)
        stale = [i for i in self.chunks.get(where=where, include=[])["ids"] if i not in written]
        for lo in range(0, len(stale), batch):
            self.chunks.delete(ids=stale[lo : lo + batch])
        done = self.log.append("done", write_id, doc_ids)
        self._bump()  # after the done event: a reader that sees this version finds the event too
        if self.index is not None:
            with self.index.transaction():
                for doc, chunks, texts, _ in items:
                    rows = [row(doc, c, t) for c, t in zip(chunks, texts, strict=True)]
                    sig = (signatures or {}).get(doc.doc_id) or doc_signature((registry_extra or {}).get(doc.doc_id, {}), doc.text)
                    self.index.replace(doc.doc_id, doc.content_hash, rows, blobs, sig)
                if not self.shared:
                    # One writer per data dir: nothing else can have touched these documents since.
                    # With a server another writer might have, so readers (this one too) re-read them.
                    self.index.mark_applied([intent, done])

    def _max_batch(self) -> int:
        return max(1, min(getattr(self.client, "get_max_batch_size", lambda: 5000)(), 5000))

    def delete_document(self, doc_id: str) -> bool:
        """Remove a document and its chunks; False when it was not there."""
        known = bool(self.docs.get(ids=[doc_id], include=[])["ids"])
        write_id = self.log.new_write()
        intent = self.log.append("intent", write_id, [doc_id])
        self.docs.delete(ids=[doc_id])
        self.chunks.delete(where={"doc_id": doc_id})
        done = self.log.append("done", write_id, [doc_id])
        if known:
            self._bump()
        if self.index is not None:
            with self.index.transaction():
                self.index.remove([doc_id])
                if not self.shared:
                    self.index.mark_applied([intent, done])
        return known

    def registry_meta(self, key: str) -> dict[str, str]:
        """One metadata field of every registered document (documents without it are absent)."""
        got = get_all(self.docs, ["metadatas"])
        return {i: str(m[key]) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True) if m and key in m}

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these chunks (chunks deleted meanwhile are absent)."""
        if not chunk_ids:
            return {}
        from chromadb.errors import InternalError

        try:
            got = self.chunks.get(ids=list(chunk_ids), include=["embeddings"])
        except InternalError:  # a writer deleted some of them while Chroma read ("Error finding id")
            return {}
        embs = got.get("embeddings")
        if embs is None:
            return {}
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], embs, strict=True)}

    def chunk_metas(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """The stored text and metadata of these chunks (chunks deleted meanwhile are absent)."""
        if not chunk_ids:
            return {}
        got = self.chunks.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        return {c.chunk_id: (c.text, c.meta) for c in self.with_texts(got["ids"], got["documents"], got["metadatas"])}

    def documents(self) -> list[SourceInfo]:
        """Every document in the library, oldest first."""
        got = get_all(self.docs, ["metadatas"])
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

    def count(self) -> int:
        """Number of chunks."""
        return int(self.chunks.count())

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[Neighbour]:
        """Nearest chunks by cosine: (chunk_id, text, metadata, similarity)."""
        total = self.count()
        if total == 0:
            return []
        res = self.chunks.query(
            query_embeddings=[vector], n_results=min(n, total), where=where, include=["documents", "metadatas", "distances"]
        )
        similarity = {i: 1.0 - float(d) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)}
        found = self.with_texts(res["ids"][0], res["documents"][0], res["metadatas"][0])  # without rows deleted meanwhile
        return [Neighbour(c.chunk_id, c.text, c.meta, similarity[c.chunk_id]) for c in found]

    def nearest(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Nearest chunk ids by cosine with their similarity, nothing else read (the searcher has the rows).

        Chroma 1.x returns what it has when asked for more than the collection holds, so no count first.
        """
        res = self.chunks.query(query_embeddings=[vector], n_results=max(1, n), include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def load_vectors(self, dim: int) -> None:
        """Have Chroma load this library's vector index and open its registry now, not at the next write or query.

        The embedded client reads a collection's whole HNSW index on its first use in a process
        (about a second at 10^5 chunks, docs/scale.md), and opening the registry's collection
        costs a first read another 0.1-0.2 s; a server holds both already.
        """
        if not self.shared:
            self.nearest(np.full(dim, dim**-0.5, dtype=np.float32), 1)
            self.docs.count()

    def all_chunks(self, page: int = 5000) -> list[StoredChunk]:
        """Every chunk's id, indexed text and metadata (paged reads)."""
        out: list[StoredChunk] = []
        offset = 0
        while True:
            got = self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            out += self.with_texts(got["ids"], got["documents"], got["metadatas"])
            if len(got["ids"]) < page:
                return out
            offset += page
