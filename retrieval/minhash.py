"""MinHash signatures of documents, for near-duplicate checks (the same wire story on two sites).

A document's signature is the minimum of 128 hash functions over its 5-word shingles; the
share of equal positions in two signatures estimates the Jaccard similarity of their
shingle sets. From that and the two set sizes we estimate *containment* (shared shingles
over the smaller set), so a story that one site cut short still matches the full one.
Signatures are stored in the document registry; candidates come from LSH bands, whose keys
(`band_keys`) a library's local index keeps (`retrieval/store/keyword_index.py`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

import numpy as np

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
        """A compact string for the registry's metadata: the size, then the hashes in base85."""
        return f"{self.size}:{base64.b85encode(self.mins.astype('>u4').tobytes()).decode('ascii')}"

    def to_bytes(self) -> bytes:
        """The signature as the keyword index keeps it: the size, then the hashes, 4 bytes each, big-endian."""
        return int(self.size).to_bytes(4, "big") + self.mins.astype(">u4").tobytes()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> Signature | None:
        """The signature `to_bytes` wrote, or None when missing or malformed."""
        if raw is None or len(raw) != 4 * (PERMUTATIONS + 1):
            return None
        return cls(np.frombuffer(raw, dtype=">u4", offset=4).astype(np.uint32), int.from_bytes(raw[:4], "big"))

    @classmethod
    def decode(cls, raw: str) -> Signature | None:
        """The signature stored by `encode` (or in hex, as libraries written before hold it), or None when missing or malformed."""
        try:
            size, packed = raw.split(":", 1)
            if len(packed) == 8 * PERMUTATIONS:
                mins = np.frombuffer(bytes.fromhex(packed), dtype=">u4").astype(np.uint32)
            else:
                mins = _b85_words(packed)
            return cls(mins, int(size)) if mins.shape == (PERMUTATIONS,) else None
        except (ValueError, AttributeError):
            return None


_B85 = np.full(256, 255, dtype=np.uint8)
_B85[np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~", dtype=np.uint8)] = np.arange(85)
_B85_PLACES = np.array([85**4, 85**3, 85**2, 85, 1], dtype=np.uint64)


def _b85_words(packed: str) -> np.ndarray:
    """Big-endian 32-bit words from base85 text without padding (5 characters per word), as `base64.b85decode` reads it.

    Vectorised: a library's duplicate check decodes thousands of signatures per ingest, and
    `base64.b85decode` is pure Python (docs/scale.md).
    """
    raw = packed.encode("ascii")  # UnicodeEncodeError is a ValueError
    if len(raw) % 5:
        raise ValueError("base85 text of a signature is a whole number of 5-character groups")
    digits = _B85[np.frombuffer(raw, dtype=np.uint8)]
    if (digits == 255).any():
        raise ValueError("not base85")
    words = digits.reshape(-1, 5).astype(np.uint64) @ _B85_PLACES
    if (words > 0xFFFFFFFF).any():
        raise ValueError("base85 group out of range")
    return words.astype(np.uint32)


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


def band_keys(sig: Signature) -> list[int]:
    """The signature's LSH band keys: each band's number and rows hashed to one 32-bit integer.

    Two documents sharing any key are candidates; a false match from the hashing is weeded out
    by comparing the signatures themselves.
    """
    rows = PERMUTATIONS // BANDS
    raw = sig.mins.astype(">u4").tobytes()
    return [
        int.from_bytes(hashlib.blake2b(bytes([b]) + raw[4 * rows * b : 4 * rows * (b + 1)], digest_size=4).digest(), "big")
        for b in range(BANDS)
    ]
