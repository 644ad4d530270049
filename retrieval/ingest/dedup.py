"""Near-duplicate documents (the same wire story on two sites): MinHash over word shingles.

A document's signature is the minimum of 128 hash functions over its 5-word shingles; the
share of equal positions in two signatures estimates the Jaccard similarity of their
shingle sets. From that and the two set sizes we estimate *containment* (shared shingles
over the smaller set), so a story that one site cut short still matches the full one.
Signatures are stored in the document registry; candidates come from LSH bands.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

DuplicatePolicy = Literal["keep", "skip"]
POLICIES: tuple[str, ...] = ("keep", "skip")

SHINGLE_WORDS = 5
PERMUTATIONS = 128
BANDS = 32  # 32 bands of 4 rows: pairs with Jaccard above ~0.4 become candidates
THRESHOLD = 0.8  # estimated containment at which two documents count as near-duplicates
MIN_SHINGLES = 20  # shorter texts (a headline, a one-line note) are never flagged

_WORD = re.compile(r"\w+", re.UNICODE)
_rng = np.random.default_rng(0x5EED_D0C5)  # fixed: signatures must agree across processes and runs
_A = _rng.integers(1, 2**63, size=(PERMUTATIONS, 1), dtype=np.uint64) | np.uint64(1)
_B = _rng.integers(0, 2**63, size=(PERMUTATIONS, 1), dtype=np.uint64)


@dataclass(frozen=True)
class Signature:
    """A document's MinHash signature and how many distinct shingles it summarises."""

    mins: np.ndarray  # uint32, PERMUTATIONS long
    size: int

    def encode(self) -> str:
        """A compact string for the registry's metadata."""
        return f"{self.size}:{self.mins.astype('>u4').tobytes().hex()}"

    @classmethod
    def decode(cls, raw: str) -> Signature | None:
        """The signature stored by `encode`, or None when it is missing or malformed."""
        try:
            size, hexed = raw.split(":", 1)
            mins = np.frombuffer(bytes.fromhex(hexed), dtype=">u4").astype(np.uint32)
        except (ValueError, AttributeError):
            return None
        return cls(mins, int(size)) if mins.shape == (PERMUTATIONS,) else None


def signature(text: str) -> Signature:
    """The MinHash signature of a text's word shingles (case and punctuation ignored)."""
    words = _WORD.findall(text.lower())
    n = max(1, len(words) - SHINGLE_WORDS + 1)
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(n)} if words else {""}
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "big") for s in shingles),
        dtype=np.uint64,
        count=len(shingles),
    )
    # Multiply-shift hashing (2-universal): ((a*x + b) mod 2^64) >> 32, one row per permutation.
    with np.errstate(over="ignore"):
        permuted = (_A * hashes[None, :] + _B) >> np.uint64(32)
    return Signature(permuted.min(axis=1).astype(np.uint32), len(shingles) if words else 0)


def containment(a: Signature, b: Signature) -> float:
    """Estimated share of the smaller document's shingles found in the other."""
    if not a.size or not b.size:
        return 0.0
    jaccard = float(np.mean(a.mins == b.mins))
    shared = jaccard * (a.size + b.size) / (1.0 + jaccard)
    return min(1.0, shared / min(a.size, b.size))


class DuplicateIndex:
    """The signatures of a library's documents, with LSH buckets for fast candidate lookup."""

    def __init__(self) -> None:
        self._sigs: dict[str, tuple[Signature, str]] = {}
        self._buckets: dict[tuple[int, bytes], set[str]] = {}

    def __len__(self) -> int:
        return len(self._sigs)

    def _bands(self, sig: Signature) -> list[tuple[int, bytes]]:
        rows = PERMUTATIONS // BANDS
        return [(b, sig.mins[b * rows : (b + 1) * rows].tobytes()) for b in range(BANDS)]

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

    def best_match(self, doc_id: str, sig: Signature, threshold: float = THRESHOLD) -> tuple[str, str, float] | None:
        """The most similar other document at or above the threshold: (doc_id, source, containment)."""
        if sig.size < MIN_SHINGLES:
            return None
        candidates: set[str] = set()
        for key in self._bands(sig):
            candidates |= self._buckets.get(key, set())
        candidates.discard(doc_id)
        best: tuple[str, str, float] | None = None
        for other in sorted(candidates):
            other_sig, other_source = self._sigs[other]
            if other_sig.size < MIN_SHINGLES:
                continue
            score = containment(sig, other_sig)
            if score >= threshold and (best is None or score > best[2]):
                best = (other, other_source, score)
        return best
