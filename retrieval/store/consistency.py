"""The consistency protocol: readers see one complete version per document, and crashes leave nothing behind.

A write puts a document's new chunks in, then points the registry at them, then retires the old
ones, logging an intent before and a done event after (`changelog.py`). These reads find what an
interrupted write left (orphan, stale or missing chunks), clean it up, and give a keyword index
each document's current rows to catch up from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from retrieval.minhash import Signature
from retrieval.store.keyword_index import Row
from retrieval.store.rows import StoredChunk, chunk_text, doc_signature, get_all, meta_row, of_documents, text_and_meta


class Consistency:
    """The consistency half of `Collection` (it supplies the Chroma collections and the writes used here)."""

    chunks: Any
    docs: Any

    if TYPE_CHECKING:  # supplied by Collection

        def _max_batch(self) -> int: ...
        def _bump(self) -> None: ...
        def document_meta(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...
        def registered(self, doc_ids: Sequence[str]) -> dict[str, tuple[dict[str, Any], str]]: ...
        def with_texts(self, ids: Sequence[str], documents: Sequence[str | None] | None, metas: Sequence[Any] | None) -> list[StoredChunk]: ...
        def delete_document(self, doc_id: str) -> bool: ...

    def current_versions(self) -> dict[str, tuple[str, int]]:
        """Every registered document's current version and chunk count."""
        got = get_all(self.docs, ["metadatas"])
        return {i: (str((m or {}).get("content_hash", "")), int((m or {}).get("chunks", 0))) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)}

    def problems(self) -> dict[str, list[str]]:
        """What an interrupted write left behind: orphan and stale chunk ids, documents lacking chunks."""
        registry = self.current_versions()
        got = get_all(self.chunks, ["metadatas"])
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
        where = of_documents(doc_ids)
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

    def retire_leftovers(self, doc_ids: Sequence[str]) -> int:
        """Delete these documents' chunks that are not their registered version (a dead writer's); how many went."""
        if not doc_ids:
            return 0
        registry = self.current_versions_of(doc_ids)
        where = of_documents(doc_ids)
        got = self.chunks.get(where=where, include=["metadatas"])
        doomed = [
            i for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
            if str((m or {}).get("version", "")) != registry.get(str((m or {}).get("doc_id")), ("",))[0]
        ]
        batch = self._max_batch()
        for lo in range(0, len(doomed), batch):
            self.chunks.delete(ids=doomed[lo : lo + batch])
        return len(doomed)

    def current_rows(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, list[Row], Signature] | None]:
        """Each document's current version, rows and MinHash signature as a keyword index should hold them (None: not in the library).

        The chunks are read before the registry: a write puts new chunks
        in, then points the registry at them, then deletes the old ones, so a document read in
        the middle of a write keeps one complete version (the old one until the registry moves).
        """
        if not doc_ids:
            return {}
        where = of_documents(doc_ids)
        got = self.chunks.get(where=where, include=["documents", "metadatas"])
        registered = self.registered(doc_ids)
        by_doc: dict[str, dict[str, list[Row | None]]] = {}
        for cid, d, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True):
            text, meta = text_and_meta(d, m)
            if not meta:
                continue
            found = (text, meta) if text is not None else chunk_text(meta, registered)
            by_doc.setdefault(str(meta.get("doc_id")), {}).setdefault(str(meta.get("version", "")), []).append(
                None if found is None else meta_row(cid, *found)
            )
        out: dict[str, tuple[str, list[Row], Signature] | None] = {}
        for doc_id in doc_ids:
            versions = by_doc.get(doc_id, {})
            if doc_id not in registered or not versions:
                out[doc_id] = None
                continue
            current = str(registered[doc_id][0].get("content_hash", ""))
            keep = current if current in versions else max(versions, key=lambda v: (len(versions[v]), v))
            rows = [r for r in versions[keep] if r is not None]
            if len(rows) < len(versions[keep]):
                # Older chunks whose text went with their version (the registry moved on mid-read):
                # left as the index has them; the write's done event brings this document round again.
                continue
            out[doc_id] = (keep, sorted(rows, key=lambda r: r.ordinal), doc_signature(*registered[doc_id]))
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

    def signature_pages(self, page: int = 1000) -> Iterable[list[tuple[str, Signature]]]:
        """Every registered document's MinHash signature, a page at a time."""
        offset = 0
        while True:
            got = self.docs.get(include=["documents", "metadatas"], limit=page, offset=offset)
            out = []
            for doc_id, d, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True):
                text, meta = text_and_meta(d, m)
                if meta:
                    out.append((doc_id, doc_signature(meta, text or "")))
            yield out
            if len(got["ids"]) < page:
                return
            offset += page

    def chunk_pages(self, page: int = 2000) -> Iterable[list[tuple[str, Row]]]:
        """Every chunk as (version, row), a page at a time (memory stays bounded)."""
        offset = 0
        while True:
            got = self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            found = self.with_texts(got["ids"], got["documents"], got["metadatas"])
            yield [(str(c.meta.get("version", "")), meta_row(c.chunk_id, c.text, c.meta)) for c in found]
            if len(got["ids"]) < page:
                return
            offset += page
