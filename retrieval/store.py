"""Chroma, on disk or as a server: chunks with their vectors, and a registry of documents.

Each library is three Chroma collections: `NAME` holds the chunks (vector, indexed text,
metadata), `NAME--docs` one record per document (its full text and metadata) and `NAME--log`
the change log (`retrieval/changelog.py`: which documents each write touched). The chunks
collection's metadata records which embedder filled it and a version token that changes on
every write, so a keyword index knows in one read whether it must catch up.
"""

from __future__ import annotations

import re
import threading
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from retrieval import sentences
from retrieval.changelog import ChangeLog
from retrieval.errors import RagbotError
from retrieval.keyword_index import KeywordIndex, Row
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
            reason = describe_error(exc)
            shown = f"{url.scheme}://{url.hostname}:{url.port or ''}".rstrip(":")  # never echo a user:password@
            if "RAGBOT_CHROMA_TOKEN" in reason:
                raise RagbotError(f"The Chroma server at {shown} refused ragbot: check RAGBOT_CHROMA_TOKEN.") from exc
            raise RagbotError(f"Could not reach the Chroma server at {shown} (RAGBOT_CHROMA_URL): {reason}") from exc
    path = settings.data_dir / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise RagbotError(f"Could not open the library in {path} (RAGBOT_DATA_DIR): {exc}") from exc


def describe_error(exc: BaseException) -> str:
    """A short, secret-free reason for a failed Chroma call (a refused token is named as such)."""
    text = " ".join(str(exc).split())
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403) or any(w in text for w in ("401", "403", "Unauthorized", "Forbidden")):
        return "the Chroma server refused the request: check RAGBOT_CHROMA_TOKEN"
    if "<html" in text.lower():
        text = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(exc).__name__


def check_name(name: str) -> str:
    """Validate a collection name (3-62 characters: letters, digits, dot, dash, underscore)."""
    if not _NAME.match(name) or ".." in name or name.endswith(_DOCS_SUFFIX):
        raise RagbotError(f"{name!r} is not a valid collection name: use 3-62 letters, digits, '.', '-' or '_'.")
    return name


# A chunk's text, and a registered document's full text, are stored in metadata under this key,
# not as Chroma's "document": the embedded store full-text indexes every document (SQLite FTS5
# trigrams) whatever the collection schema says, and ragbot never searches it that way; that
# index was 1.1 s (chunks) and 1.1 s (registry) of a SQuAD ingest (README "Performance").
# Libraries written before keep their texts as documents and still read.
TEXT_KEY = "text"


def _text_and_meta(document: str | None, meta: Mapping[str, Any] | None) -> tuple[str | None, dict[str, Any]]:
    """A chunk's or registry row's text and its metadata without the text (text None: the row is gone).

    The metadata's text wins: a row written before the move and upserted since keeps its old
    Chroma document (an upsert leaves out what it is not given).
    """
    if meta is None:
        return None, {}
    out = dict(meta)
    text = out.pop(TEXT_KEY, None)
    return (text if isinstance(text, str) else document), out


def _get_all(col: Any, include: list[str], page: int = 2000) -> dict[str, list[Any]]:
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


def _row(doc: Document, chunk: Chunk, text: str) -> Row:
    """A chunk as the keyword index holds it."""
    return Row(chunk.chunk_id, doc.doc_id, doc.source, doc.title, doc.published or "", chunk.start, chunk.end, chunk.ordinal, text)


def _meta_row(chunk_id: str, text: str, meta: Mapping[str, Any]) -> Row:
    """A stored chunk (its text and metadata) as the keyword index holds it."""
    return Row(
        chunk_id, str(meta.get("doc_id")), str(meta.get("source", "")), str(meta.get("title", "")), str(meta.get("published") or ""),
        int(meta.get("start", 0)), int(meta.get("end", 0)), int(meta.get("ordinal", 0)), text,
    )


class LibraryMissing(RagbotError):
    """The named library does not exist (yet)."""


# What each process-wide Chroma system (one per path, shared by every client in the process) holds
# in memory: the collection versions its vector index reflects. Another process's write moves the
# version without touching this process's index, which then silently lacks the new vectors.
_VIEWS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


class Collection:
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
                    name + _DOCS_SUFFIX, embedding_function=None, metadata={"kind": "documents"}
                )
            else:
                self.chunks = client.get_collection(name, embedding_function=None)
                self.docs = client.get_collection(name + _DOCS_SUFFIX, embedding_function=None)
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

    # -- versions -----------------------------------------------------------------------------
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

    # -- documents ----------------------------------------------------------------------------
    def document_meta(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Registry metadata for these documents (missing ones are absent)."""
        if not doc_ids:
            return {}
        got = self.docs.get(ids=list(doc_ids), include=["metadatas"])
        return {i: _text_and_meta(None, m)[1] for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)}

    def document_text(self, doc_id: str) -> str | None:
        """The stored full text of a document."""
        return self.document_texts([doc_id]).get(doc_id)

    def document_texts(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """The stored full texts of these documents (missing ones are absent).

        Like a chunk's, a document's text sits in its registry metadata (libraries written before
        hold it as the Chroma document: read either).
        """
        if not doc_ids:
            return {}
        got = self.docs.get(ids=list(doc_ids), include=["documents", "metadatas"])
        rows = zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
        texts = {i: _text_and_meta(d, m)[0] for i, d, m in rows}
        return {i: t for i, t in texts.items() if t is not None}

    def write_document(self, doc: Document, chunks: Sequence[Chunk], texts: Sequence[str], vectors: np.ndarray) -> None:
        """Write a document's new chunks, point the registry at them, then retire the old version."""
        self.write_documents([(doc, chunks, texts, vectors)])

    def write_documents(
        self,
        items: Sequence[tuple[Document, Sequence[Chunk], Sequence[str], np.ndarray]],
        registry_extra: Mapping[str, Mapping[str, Any]] | None = None,
        sentence_vectors: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Write several documents at once: new chunks, then the registry, then retire old versions.

        `registry_extra` adds metadata per document; `sentence_vectors` (per chunk id) go to the
        keyword index for a local library, into the chunks' metadata on a server (every process reads them there).

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
                    "doc_id": c.doc_id,
                    "source": doc.source,
                    "title": doc.title,
                    "start": c.start,
                    "end": c.end,
                    "ordinal": c.ordinal,
                    "version": version,
                    "published": doc.published or "",
                    TEXT_KEY: text,
                    **chunk_extra.get(c.chunk_id, {}),
                }
                for c, text in zip(chunks, texts, strict=True)
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
        added_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.docs.upsert(
            ids=[doc.doc_id for doc, *_ in items],
            embeddings=np.ones((len(items), 1), dtype=np.float32),
            # The full text in metadata, not as the Chroma document: the embedded store indexes
            # every document for full-text search (half the registry write's time), which ragbot
            # never uses (it keeps its own keyword index of the chunks).
            metadatas=[
                {
                    TEXT_KEY: doc.text,
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
        where: dict[str, Any] = {"doc_id": {"$in": doc_ids}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}
        written = set(ids)
        stale = [i for i in self.chunks.get(where=where, include=[])["ids"] if i not in written]
        for lo in range(0, len(stale), batch):
            self.chunks.delete(ids=stale[lo : lo + batch])
        done = self.log.append("done", write_id, doc_ids)
        self._bump()  # after the done event: a reader that sees this version finds the event too
        if self.index is not None:
            with self.index.transaction():
                for doc, chunks, texts, _ in items:
                    rows = [_row(doc, c, t) for c, t in zip(chunks, texts, strict=True)]
                    self.index.replace(doc.doc_id, doc.content_hash, rows, blobs)
                if not self.shared:
                    # One writer per data dir: nothing else can have touched these documents since.
                    # With a server another writer might have, so readers (this one too) re-read them.
                    self.index.mark_applied([intent, done])

    def _max_batch(self) -> int:
        return max(1, min(getattr(self.client, "get_max_batch_size", lambda: 5000)(), 5000))

    # -- consistency: readers see one complete version per document; crashes leave nothing behind --
    def current_versions(self) -> dict[str, tuple[str, int]]:
        """Every registered document's current version and chunk count."""
        got = _get_all(self.docs, ["metadatas"])
        return {i: (str((m or {}).get("content_hash", "")), int((m or {}).get("chunks", 0))) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)}

    def problems(self) -> dict[str, list[str]]:
        """What an interrupted write left behind: orphan and stale chunk ids, documents lacking chunks."""
        registry = self.current_versions()
        got = _get_all(self.chunks, ["metadatas"])
        orphans: list[str] = []
        stale: list[str] = []
        have: dict[str, int] = {}
        for i, m in zip(got["ids"], got["metadatas"] or [], strict=True):
            doc_id, version = str((m or {}).get("doc_id")), str((m or {}).get("version", ""))
            if doc_id not in registry:
                orphans.append(i)
            elif version != registry[doc_id][0]:
                stale.append(i)
            else:
                have[doc_id] = have.get(doc_id, 0) + 1
        incomplete = sorted(d for d, (_, n) in registry.items() if have.get(d, 0) != n)
        return {"orphan_chunks": orphans, "stale_chunks": stale, "incomplete_documents": incomplete}

    def reconcile(self, doc_ids: Sequence[str]) -> list[str]:
        """Retire leftover chunks of these registered documents; return those whose current chunks are incomplete.

        A write killed after pointing the registry at a new version leaves the old chunks; one
        killed inside Chroma could leave a version short. The caller re-writes incomplete ones.
        """
        if not doc_ids:
            return []
        registry = {d: v for d, v in self.current_versions_of(doc_ids).items()}
        where: dict[str, Any] = {"doc_id": {"$in": list(doc_ids)}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}
        got = self.chunks.get(where=where, include=["metadatas"])
        stale: list[str] = []
        have: dict[str, int] = {}
        for i, m in zip(got["ids"], got["metadatas"] or [], strict=True):
            doc_id, version = str((m or {}).get("doc_id")), str((m or {}).get("version", ""))
            if doc_id in registry and version != registry[doc_id][0]:
                stale.append(i)
            else:
                have[doc_id] = have.get(doc_id, 0) + 1
        batch = self._max_batch()
        for lo in range(0, len(stale), batch):
            self.chunks.delete(ids=stale[lo : lo + batch])
        if stale:
            self._bump()
        return sorted(d for d, (_, n) in registry.items() if have.get(d, 0) != n)

    def current_versions_of(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        """The current version and chunk count of these registered documents."""
        meta = self.document_meta(doc_ids)
        return {d: (str(m.get("content_hash", "")), int(m.get("chunks", 0))) for d, m in meta.items()}

    def repair(self) -> dict[str, int]:
        """Delete orphan and stale chunks and forget registry entries whose chunks are missing.

        Only for a library nobody is writing to: an ingest in progress elsewhere looks like orphans.
        """
        found = self.problems()
        batch = self._max_batch()
        doomed = found["orphan_chunks"] + found["stale_chunks"]
        for lo in range(0, len(doomed), batch):
            self.chunks.delete(ids=doomed[lo : lo + batch])
        for doc_id in found["incomplete_documents"]:
            self.delete_document(doc_id)
        if doomed:
            self._bump()
        return {k: len(v) for k, v in found.items()}

    def registry_meta(self, key: str) -> dict[str, str]:
        """One metadata field of every registered document (documents without it are absent)."""
        got = _get_all(self.docs, ["metadatas"])
        return {i: str(m[key]) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True) if m and key in m}

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

    # -- catching a keyword index up -------------------------------------------------------------
    def current_rows(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, list[Row]] | None]:
        """Each document's current version and rows as a keyword index should hold them (None: not in the library).

        The chunks are read before the registry: a write puts new chunks
        in, then points the registry at them, then deletes the old ones, so a document read in
        the middle of a write keeps one complete version (the old one until the registry moves).
        """
        if not doc_ids:
            return {}
        where: dict[str, Any] = {"doc_id": {"$in": list(doc_ids)}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}
        got = self.chunks.get(where=where, include=["documents", "metadatas"])
        by_doc: dict[str, dict[str, list[Row]]] = {}
        for cid, d, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True):
            text, meta = _text_and_meta(d, m)
            if text is None:
                continue
            by_doc.setdefault(str(meta.get("doc_id")), {}).setdefault(str(meta.get("version", "")), []).append(_meta_row(cid, text, meta))
        registry = self.current_versions_of(doc_ids)
        out: dict[str, tuple[str, list[Row]] | None] = {}
        for doc_id in doc_ids:
            versions = by_doc.get(doc_id, {})
            if doc_id not in registry or not versions:
                out[doc_id] = None
                continue
            current = registry[doc_id][0]
            keep = current if current in versions else max(versions, key=lambda v: (len(versions[v]), v))
            out[doc_id] = (keep, sorted(versions[keep], key=lambda r: r.ordinal))
        return out

    def registry_versions(self, page: int = 1000) -> dict[str, str]:
        """Every registered document's current version (paged reads)."""
        out: dict[str, str] = {}
        offset = 0
        while True:
            got = self.docs.get(include=["metadatas"], limit=page, offset=offset)
            out.update({i: str((m or {}).get("content_hash", "")) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)})
            if len(got["ids"]) < page:
                return out
            offset += page

    def chunk_pages(self, page: int = 2000) -> Iterable[list[tuple[str, Row]]]:
        """Every chunk as (version, row), a page at a time (memory stays bounded)."""
        offset = 0
        while True:
            got = self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            rows = []
            for cid, d, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True):
                text, meta = _text_and_meta(d, m)
                if text is not None:
                    rows.append((str(meta.get("version", "")), _meta_row(cid, text, meta)))
            yield rows
            if len(got["ids"]) < page:
                return
            offset += page

    def retire_leftovers(self, doc_ids: Sequence[str]) -> int:
        """Delete these documents' chunks that are not their registered version (a dead writer's); how many went."""
        if not doc_ids:
            return 0
        registry = self.current_versions_of(doc_ids)
        where: dict[str, Any] = {"doc_id": {"$in": list(doc_ids)}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}
        got = self.chunks.get(where=where, include=["metadatas"])
        doomed = [
            i for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
            if str((m or {}).get("version", "")) != registry.get(str((m or {}).get("doc_id")), ("",))[0]
        ]
        batch = self._max_batch()
        for lo in range(0, len(doomed), batch):
            self.chunks.delete(ids=doomed[lo : lo + batch])
        return len(doomed)

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
        out = {}
        for i, d, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True):
            text, meta = _text_and_meta(d, m)
            if text is not None:
                out[i] = (text, meta)
        return out

    def documents(self) -> list[SourceInfo]:
        """Every document in the library, oldest first."""
        got = _get_all(self.docs, ["metadatas"])
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
        rows = [
            (i, *_text_and_meta(t, m), 1.0 - float(d))
            for i, t, m, d in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True)
        ]
        return [r for r in rows if r[1] is not None]  # None: deleted by another writer while the query ran

    def nearest(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Nearest chunk ids by cosine with their similarity, nothing else read (the searcher has the rows).

        Chroma 1.x returns what it has when asked for more than the collection holds, so no count first.
        """
        res = self.chunks.query(query_embeddings=[vector], n_results=max(1, n), include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def all_chunks(self, page: int = 5000) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every chunk's id, indexed text and metadata (paged reads)."""
        ids, texts, metas, _ = self._all_chunks(page, vectors=False)
        return ids, texts, metas

    def _all_chunks(self, page: int, vectors: bool) -> tuple[list[str], list[str], list[dict[str, Any]], list[Any]]:
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        vecs: list[Any] = []
        include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
        offset = 0
        while True:
            got = self.chunks.get(include=include, limit=page, offset=offset)
            embs = got.get("embeddings") if vectors else None
            rows = [
                (i, *_text_and_meta(t, m), embs[n] if embs is not None else None)
                for n, (i, t, m) in enumerate(zip(got["ids"], got["documents"], got["metadatas"], strict=True))
            ]
            rows = [r for r in rows if r[1] is not None]
            ids += [r[0] for r in rows]
            texts += [r[1] for r in rows]
            metas += [r[2] for r in rows]
            vecs += [r[3] for r in rows]
            if len(got["ids"]) < page:
                return ids, texts, metas, vecs
            offset += page
