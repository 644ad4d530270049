"""Dense + keyword retrieval fused into one ranking of Hits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval import sentences
from retrieval.chunking import indexed_text
from retrieval.embedding import Embedder
from retrieval.errors import RagbotError
from retrieval.keyword import BM25Index, coverage, question_terms, terms
from retrieval.snapshot_cache import SnapshotCache
from retrieval.store import Collection
from retrieval.types import Hit


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

    def __post_init__(self) -> None:
        if self.since is not None:
            from retrieval.loaders import iso_date

            if not self.since.strip() or iso_date(self.since) is None:
                raise RagbotError(f"--since needs a date like 2024-05-31, not {self.since!r}.")
            object.__setattr__(self, "since", iso_date(self.since))

    def __bool__(self) -> bool:
        return bool(self.source or self.since)


@dataclass
class KeywordSnapshot:
    """The keyword index of one collection version, with the chunk rows (and vectors) it indexes."""

    version: str
    index: BM25Index
    ids: list[str]
    texts: list[str]
    metas: list[dict[str, Any]]
    row_of: dict[str, int]
    terms: list[frozenset[str]]
    sentences: list[np.ndarray | None]  # each row's stored sentence vectors (float16), see retrieval/sentences.py
    vectors: np.ndarray  # each row's chunk vector: keyword candidates are scored without a Chroma read


# Query-adaptive fusion (fitted in README "Retrieval quality"): the dense weight falls linearly
# from 1 (no query term found by the best keyword match) to DENSE_FLOOR (every term found).
DENSE_FLOOR = 0.4
POOL = 50


def dense_weight(coverage: float) -> float:
    """Weight of the dense score when the best keyword match covers `coverage` of the query's idf mass."""
    return min(1.0, max(DENSE_FLOOR, 1.0 - coverage * (1.0 - DENSE_FLOOR)))


def _normalise(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Min-max scale against the best `POOL` scores of a ranking (its best is 1, its POOL-th is 0)."""
    if reference.size == 0:
        return np.zeros_like(scores)
    hi, lo = float(reference.max()), float(reference.min())
    return (scores - lo) / max(hi - lo, 1e-9)


class Searcher:
    """Retrieves from one collection; keeps its keyword index in step with the collection's version."""

    def __init__(self, collection: Collection, embedder: Embedder, cache: SnapshotCache | None = None) -> None:
        self.collection = collection
        self.embedder = embedder
        self.cache = cache  # keyword snapshots on disk, so a fresh process need not rebuild them
        self._snapshot: KeywordSnapshot | None = None
        self._lock = threading.Lock()

    def keyword(self) -> KeywordSnapshot:
        """The keyword index for the collection as it is now (rebuilt when its version changed)."""
        version = self.collection.version()
        with self._lock:
            if (self._snapshot is None or self._snapshot.version != version) and self.cache:
                self._snapshot = self.cache.load(version) or self._snapshot
            if self._snapshot is None or self._snapshot.version != version:
                # One complete version per document, even while another process re-ingests it.
                all_ids, all_texts, all_metas, all_vecs = self.collection.all_chunks_with_vectors()
                ids, texts, metas = self.collection.keep_current(all_ids, all_texts, all_metas)
                position = {c: n for n, c in enumerate(all_ids)}
                vectors = all_vecs[[position[c] for c in ids]] if ids else np.zeros((0, self.embedder.dim), np.float32)
                indexed = [indexed_text(str(m.get("title", "")), t) for t, m in zip(texts, metas, strict=True)]
                stored = [sentences.decode(m, self.embedder.dim) for m in metas]
                for m in metas:  # the vectors live in `stored`; metas stay small
                    m.pop(sentences.KEY, None)
                    m.pop(sentences.FORMAT_KEY, None)
                self._snapshot = KeywordSnapshot(
                    version, BM25Index(indexed), ids, texts, metas, {c: i for i, c in enumerate(ids)},
                    [frozenset(terms(t)) for t in indexed], stored, vectors,
                )
                if self.cache:
                    self.cache.save(self._snapshot)
            return self._snapshot

    def sentence_vectors(self, hit: Hit) -> np.ndarray | None:
        """The hit's stored sentence vectors (one row per sentence of its text), if the snapshot has them."""
        snap = self._snapshot
        row = snap.row_of.get(hit.chunk_id) if snap else None
        if snap is None or row is None or snap.texts[row] != hit.text:
            return None
        vecs = snap.sentences[row]
        return None if vecs is None else vecs.astype(np.float32)

    def idf(self) -> Callable[[str], float]:
        """Term idf from the snapshot the last search used, without reading the version again."""
        return (self._snapshot or self.keyword()).index.idf_of

    def coverage(self, snap: KeywordSnapshot, query: str, row: int) -> float:
        """Share of the query's idf mass whose terms appear in the indexed text of `row`."""
        return coverage(set(question_terms(query)), snap.terms[row], snap.index.idf_of)

    def search(self, query: str, k: int, filters: Filters | None = None, vector: np.ndarray | None = None) -> list[Hit]:
        """The k best chunks for the query; searched again if the collection changed meanwhile.

        The search runs on the keyword snapshot at hand, then reads the collection's version once:
        versions never come back, so if it still names the snapshot, nothing changed from before
        the search until after it, and every row the search used was current throughout. If it
        moved (a write elsewhere may have deleted rows halfway, so a document would seem to
        vanish), the snapshot is brought up to date and the search repeated.
        """
        hits: list[Hit] = []
        for attempt in range(5):
            snap = self._snapshot if attempt == 0 and self._snapshot is not None else self.keyword()
            hits = self._search_once(snap, query, k, filters, vector)
            if self.collection.version() == snap.version:
                break
        return hits

    def _search_once(
        self, snap: KeywordSnapshot, query: str, k: int, filters: Filters | None = None, vector: np.ndarray | None = None
    ) -> list[Hit]:
        """The k best chunks for the query: dense and keyword scores, normalised and mixed by query."""
        filters = filters or Filters()
        if not snap.ids:
            return []
        pool = max(POOL, 4 * k)
        vec = self.embedder.embed([query])[0] if vector is None else vector
        nearest = self.collection.nearest(vec, pool if not filters else min(len(snap.ids), pool * 4))
        dense = [(cid, sim) for cid, sim in nearest if cid in snap.row_of and filters.allows(snap.metas[snap.row_of[cid]])][:pool]
        bm25 = snap.index.scores(query)
        if filters:
            allowed = np.array([filters.allows(m) for m in snap.metas], dtype=bool)
            bm25 = np.where(allowed, bm25, 0.0)
        kw_rows = [int(r) for r in np.argsort(-bm25, kind="stable")[:pool] if bm25[r] > 0]

        sims = dict(dense)
        missing = [r for r in kw_rows if snap.ids[r] not in sims]
        if missing:
            for r, sim in zip(missing, snap.vectors[missing] @ vec, strict=True):
                sims[snap.ids[r]] = float(sim)
        candidates = [cid for cid in sims if cid in snap.row_of]
        if not candidates:
            return []
        rows = np.array([snap.row_of[c] for c in candidates])
        d = np.array([sims[c] for c in candidates])
        b = bm25[rows]
        w = dense_weight(self.coverage(snap, query, kw_rows[0])) if kw_rows else 1.0
        fused = w * _normalise(d, np.array([x[1] for x in dense])) + (1 - w) * _normalise(b, bm25[kw_rows])
        order = np.lexsort((np.array(candidates), -fused))[:k]
        return [self._hit(snap, candidates[i], rank, float(fused[i]), float(d[i]), float(b[i])) for rank, i in enumerate(order, start=1)]

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


