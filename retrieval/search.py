"""Dense + keyword retrieval fused into one ranking of Hits."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.chunking import indexed_text
from retrieval.embedding import Embedder
from retrieval.keyword import BM25Index
from retrieval.store import Collection
from retrieval.types import Hit

RRF_K = 60


@dataclass(frozen=True)
class Filters:
    """Restrictions on what may be retrieved."""

    source: str | None = None  # substring of the document's source (path or URL)
    since: str | None = None  # ISO date: only documents published on or after it

    def allows(self, meta: dict[str, Any]) -> bool:
        """Whether a chunk's metadata passes the filters."""
        if self.source and self.source.lower() not in str(meta.get("source", "")).lower():
            return False
        if self.since:
            published = str(meta.get("published") or "")
            if not published or published[:10] < self.since[:10]:
                return False
        return True

    def __bool__(self) -> bool:
        return bool(self.source or self.since)


@dataclass
class KeywordSnapshot:
    """The keyword index of one collection version, with the chunk rows it indexes."""

    version: str
    index: BM25Index
    ids: list[str]
    texts: list[str]
    metas: list[dict[str, Any]]
    row_of: dict[str, int]


class Searcher:
    """Retrieves from one collection; keeps its keyword index in step with the collection's version."""

    def __init__(self, collection: Collection, embedder: Embedder) -> None:
        self.collection = collection
        self.embedder = embedder
        self._snapshot: KeywordSnapshot | None = None
        self._lock = threading.Lock()

    def keyword(self) -> KeywordSnapshot:
        """The keyword index for the collection as it is now (rebuilt when its version changed)."""
        version = self.collection.version()
        with self._lock:
            if self._snapshot is None or self._snapshot.version != version:
                ids, texts, metas = self.collection.all_chunks()
                index = BM25Index([indexed_text(str(m.get("title", "")), t) for t, m in zip(texts, metas, strict=True)])
                self._snapshot = KeywordSnapshot(version, index, ids, texts, metas, {c: i for i, c in enumerate(ids)})
            return self._snapshot

    def search(self, query: str, k: int, filters: Filters | None = None, vector: np.ndarray | None = None) -> list[Hit]:
        """The k best chunks for the query, fused from dense and keyword rankings."""
        filters = filters or Filters()
        snap = self.keyword()
        if not snap.ids:
            return []
        pool = max(50, 4 * k)
        vec = self.embedder.embed([query])[0] if vector is None else vector
        dense = self.collection.query(vec, pool if not filters else min(len(snap.ids), pool * 4))
        dense = [d for d in dense if filters.allows(d[2])][:pool]
        bm25 = snap.index.scores(query)
        if filters:
            allowed = np.array([filters.allows(m) for m in snap.metas], dtype=bool)
            bm25 = np.where(allowed, bm25, 0.0)
        kw_rows = [r for r in np.argsort(-bm25, kind="stable")[:pool] if bm25[r] > 0]

        dense_sim = {cid: sim for cid, _, _, sim in dense}
        fused: dict[str, float] = {}
        for rank, (cid, *_rest) in enumerate(dense, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        for rank, row in enumerate(kw_rows, start=1):
            cid = snap.ids[row]
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused, key=lambda c: (-fused[c], c))[:k]
        missing = [c for c in best if c not in dense_sim]
        if missing:
            for cid, (_, _, v) in self.collection.get_chunks(missing, embeddings=True).items():
                dense_sim[cid] = float(np.dot(v, vec)) if v is not None else 0.0
        return [self._hit(snap, cid, rank, fused[cid], dense_sim.get(cid), float(bm25[snap.row_of[cid]]) if cid in snap.row_of else 0.0)
                for rank, cid in enumerate(best, start=1) if cid in snap.row_of]

    def _hit(self, snap: KeywordSnapshot, cid: str, rank: int, score: float, dense: float | None, kw: float) -> Hit:
        row = snap.row_of[cid]
        m = snap.metas[row]
        return Hit(
            chunk_id=cid,
            doc_id=str(m["doc_id"]),
            source=str(m.get("source", "")),
            title=str(m.get("title", "")),
            text=snap.texts[row],
            start=int(m["start"]),
            end=int(m["end"]),
            ordinal=int(m.get("ordinal", 0)),
            score=score,
            rank=rank,
            dense=dense,
            keyword=kw,
            published=str(m.get("published") or "") or None,
        )


