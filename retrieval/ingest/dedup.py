"""Near-duplicate documents at ingest: the library's documents and this ingest's, looked up by LSH band.

The signatures are MinHash (`retrieval/minhash.py`). The library's documents are found through
the band keys its local index keeps, and only those candidates' signatures are read (from the same
index), so an ingest costs in proportion to what it adds, not to the library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from retrieval.minhash import (
    BANDS,
    MIN_SHINGLES,
    PERMUTATIONS,
    SHINGLE_WORDS,
    THRESHOLD,
    Signature,
    band_keys,
    containment,
    signature,
)

__all__ = [
    "BANDS", "MIN_SHINGLES", "PERMUTATIONS", "POLICIES", "SHINGLE_WORDS", "THRESHOLD", "DuplicateIndex", "DuplicatePolicy",
    "Signature", "Stored", "band_keys", "containment", "signature",
]

DuplicatePolicy = Literal["keep", "skip"]
POLICIES: tuple[str, ...] = ("keep", "skip")


class Stored(Protocol):
    """The library's documents as the duplicate check sees them."""

    def candidates(self, keys: Sequence[int]) -> set[str]:
        """Documents sharing any of these band keys."""
        ...

    def signatures(self, doc_ids: Sequence[str]) -> dict[str, tuple[Signature, str]]:
        """These documents' signatures and sources (missing ones are absent)."""
        ...


class DuplicateIndex:
    """Signatures with LSH buckets: this ingest's documents in memory, the library's through `stored`.

    A document added here shadows the library's copy of the same id (a new version of it).
    """

    def __init__(self, stored: Stored | None = None) -> None:
        self.stored = stored
        self._sigs: dict[str, tuple[Signature, str]] = {}
        self._buckets: dict[int, set[str]] = {}
        self._library: dict[str, tuple[Signature, str] | None] = {}  # the library's signatures read so far
        self._near: dict[str, set[str]] = {}  # prefetched: a document's candidates in the library, until its check

    def __len__(self) -> int:
        return len(self._sigs)

    def _bands(self, sig: Signature) -> list[int]:
        return band_keys(sig)

    def add(self, doc_id: str, source: str, sig: Signature) -> None:
        """Index a document (replacing an earlier signature for the same id)."""
        self.remove(doc_id)
        self._sigs[doc_id] = (sig, source)
        for key in self._bands(sig):
            self._buckets.setdefault(key, set()).add(doc_id)

    def remove(self, doc_id: str) -> None:
        """Forget a document."""
        old = self._sigs.pop(doc_id, None)
        if old:
            for key in self._bands(old[0]):
                self._buckets.get(key, set()).discard(doc_id)

    def prefetch(self, sigs: Mapping[str, Signature]) -> None:
        """Find these documents' candidates in the library and read their signatures in one go, for `best_match`."""
        if not self.stored:
            return
        for doc_id, sig in sigs.items():
            if sig.size >= MIN_SHINGLES:
                self._near[doc_id] = self.stored.candidates(self._bands(sig))
        unread = sorted(set().union(*self._near.values()) - self._library.keys()) if self._near else []
        if unread:
            found = self.stored.signatures(unread)
            self._library.update({d: found.get(d) for d in unread})

    def best_match(self, doc_id: str, sig: Signature, threshold: float = THRESHOLD) -> tuple[str, str, float] | None:
        """The most similar other document at or above the threshold: (doc_id, source, containment)."""
        if sig.size < MIN_SHINGLES:
            return None
        keys = self._bands(sig)
        candidates: set[str] = set()
        for key in keys:
            candidates |= self._buckets.get(key, set())
        near = self._near.pop(doc_id, None)
        if near is None and self.stored:
            near = self.stored.candidates(keys)
        from_library = (near or set()) - self._sigs.keys()
        unread = sorted(from_library - self._library.keys())
        if unread and self.stored:
            found = self.stored.signatures(unread)
            self._library.update({d: found.get(d) for d in unread})
        candidates |= {d for d in from_library if self._library.get(d)}
        candidates.discard(doc_id)
        best: tuple[str, str, float] | None = None
        for other in sorted(candidates):
            known = self._sigs.get(other) or self._library[other]
            assert known is not None
            other_sig, other_source = known
            if other_sig.size < MIN_SHINGLES:
                continue
            score = containment(sig, other_sig)
            if score >= threshold and (best is None or score > best[2]):
                best = (other, other_source, score)
        return best
