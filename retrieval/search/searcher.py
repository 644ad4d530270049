"""Dense + keyword retrieval fused into one ranking of Hits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.embedding import Embedder, sentences
from retrieval.errors import RagbotError
from retrieval.store import Collection
from retrieval.store.keyword_index import KeywordIndex, Row
from retrieval.store.keyword_sync import catch_up
from retrieval.store.recovery import StaleView
from retrieval.terms import coverage, question_terms, terms
from retrieval.text import indexed_text, iso_date
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
            if not self.since.strip() or iso_date(self.since) is None:
                raise RagbotError(f"--since needs a date like 2024-05-31, not {self.since!r}.")
            object.__setattr__(self, "since", iso_date(self.since))

    def __bool__(self) -> bool:
        return bool(self.source or self.since)


# Query-adaptive fusion (fitted in docs/retrieval.md, "Retrievers"): the dense weight falls linearly
# from 1 (no query term found by the best keyword match) to DENSE_FLOOR (every term found).
DENSE_FLOOR = 0.4
POOL = 50


def dense_weight(coverage: float) -> float:
    """Weight of the dense score when the best keyword match covers `coverage` of the query's idf mass."""
    return min(1.0, max(DENSE_FLOOR, 1.0 - coverage * (1.0 - DENSE_FLOOR)))


def _normalise(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Scale scores into [0, 1] against a ranking's best `POOL` scores (its best is 1, its POOL-th 0, lower ones 0).

    When the reference has no spread (one keyword match, or equal scores), a score as good as
    its best is 1 and the others are their share of it: no division by a vanishing range.
    """
    if reference.size == 0:
        return np.zeros_like(scores, dtype=np.float64)
    hi, lo = float(reference.max()), float(reference.min())
    if hi - lo > 1e-6 * max(abs(hi), 1.0):
        out = (scores - lo) / (hi - lo)
    elif hi > 0:
        out = scores / hi
    else:
        out = (scores >= hi).astype(np.float64)
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


class Searcher:
    """Retrieves from one collection: dense from Chroma, keyword from its on-disk index, kept caught up."""

    def __init__(self, collection: Collection, embedder: Embedder, index: KeywordIndex) -> None:
        self.collection = collection
        self.embedder = embedder
        self.index = index
        self._opened = False
        self._lock = threading.Lock()
        self._sentences: dict[str, tuple[str, np.ndarray | None]] = {}
        self._last_hits: list[Hit] = []

    def sync(self) -> str:
        """Bring the keyword index up to the collection's version (the first call also reconciles); that version."""
        with self._lock:
            opening, self._opened = not self._opened, True
            self._sentences.clear()
            return catch_up(self.index, self.collection, opening=opening)

    def sentence_vectors(self, hit: Hit) -> np.ndarray | None:
        """The hit's stored sentence vectors (one row per sentence of its text), if Chroma has them for this text."""
        if hit.chunk_id not in self._sentences:
            # One read for all the last search's hits: the composer asks for each in turn.
            wanted = list(dict.fromkeys([hit.chunk_id] + [h.chunk_id for h in self._last_hits]))
            local = self.index.sentences(wanted)
            rows = self.index.rows([c for c in wanted if c in local])
            for cid, blob in local.items():
                self._sentences[cid] = (rows[cid].text if cid in rows else "", sentences.from_bytes(blob, self.embedder.dim))
            rest = [c for c in wanted if c not in local]
            got = self.collection.chunk_metas(rest) if rest else {}  # a server's, or an older library's
            for cid in rest:
                text, meta = got.get(cid, ("", {}))
                self._sentences[cid] = (text, sentences.decode(meta, self.embedder.dim))
        text, vecs = self._sentences[hit.chunk_id]
        return None if vecs is None or text != hit.text else vecs

    def idf(self) -> Callable[[str], float]:
        """Term idf from the keyword index's document frequencies."""
        return self.index.idf

    def search(self, query: str, k: int, filters: Filters | None = None, vector: np.ndarray | None = None) -> list[Hit]:
        """The k best chunks for the query; searched again if the collection changed meanwhile.

        The search runs on the keyword index as it is, then reads the collection's version once:
        versions never come back, so if it still names the version the index was caught up to,
        nothing changed from before the search until after it. If it moved (a write elsewhere may
        have deleted rows halfway), the index catches up and the search is repeated.
        """
        hits: list[Hit] = []
        for attempt in range(5):
            seen = self.index.get("seen_version") if attempt == 0 and self._opened else self.sync()
            hits = self._search_once(query, k, filters, vector)
            now = self.collection.version()
            if not self.collection.reflects(now):
                raise StaleView(f"the library moved to version {now} in another process")
            if now == seen:
                break
        self._last_hits = hits
        return hits

    def _search_once(self, query: str, k: int, filters: Filters | None = None, vector: np.ndarray | None = None) -> list[Hit]:
        """The k best chunks for the query: dense and keyword scores, normalised and mixed by query."""
        filters = filters or Filters()
        pool = max(POOL, 4 * k)
        vec = self.embedder.embed([query])[0] if vector is None else vector
        nearest = self.collection.nearest(vec, pool if not filters else pool * 4)
        allows = (lambda source, published: filters.allows({"source": source, "published": published})) if filters else None
        keyword = self.index.search(terms(query), pool, allows)
        rows = self.index.rows([cid for cid, _ in nearest] + [cid for cid, _ in keyword])
        # Chunks the index does not hold are not current (an interrupted or unfinished write).
        dense = [(cid, sim) for cid, sim in nearest if cid in rows and filters.allows(rows[cid].meta())][:pool]
        keyword = [(cid, s) for cid, s in keyword if cid in rows]
        sims = dict(dense)
        missing = [cid for cid, _ in keyword if cid not in sims]
        for cid, v in self.collection.vectors(missing).items():
            sims[cid] = float(v @ vec)
        bm25 = dict(keyword)
        candidates = [cid for cid in sims if cid in rows]
        if not candidates:
            return []
        d = np.array([sims[c] for c in candidates])
        b = np.array([bm25.get(c, 0.0) for c in candidates])
        w = dense_weight(self.coverage(query, rows[keyword[0][0]])) if keyword else 1.0
        fused = w * _normalise(d, np.array([x[1] for x in dense])) + (1 - w) * _normalise(b, np.array([s for _, s in keyword]))
        order = np.lexsort((np.array(candidates), -fused))[:k]
        return [_hit(rows[candidates[i]], rank, float(fused[i]), float(d[i]), float(b[i])) for rank, i in enumerate(order, start=1)]

    def coverage(self, query: str, row: Row) -> float:
        """Share of the query's idf mass whose terms appear in the row's indexed text."""
        return coverage(set(question_terms(query)), set(terms(indexed_text(row.title, row.text))), self.index.idf)


def _hit(row: Row, rank: int, score: float, dense: float | None, kw: float) -> Hit:
    return Hit(
        chunk_id=row.chunk_id,
        doc_id=row.doc_id,
        source=row.source,
        title=row.title,
        text=row.text,
        start=row.start,
        end=row.end,
        ordinal=row.ordinal,
        score=score,
        rank=rank,
        dense=dense,
        keyword=kw,
        published=row.published or None,
    )
