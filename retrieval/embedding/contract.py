"""The embedder contract: texts to L2-normalised vectors, and span vectors pooled from one forward pass."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

MAX_TOKENS = 256


class Tokenizer(Protocol):
    """The part of a `tokenizers.Tokenizer` we use."""

    def encode_batch(self, inputs: list[str], /, *, add_special_tokens: bool = ...) -> list[Any]: ...


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; `identity` names model and backend."""

    identity: str
    dim: int

    @property
    def tokenizer(self) -> Tokenizer:
        """The embedder's own tokenizer, for counting tokens (read-only: a backend's concrete tokenizer satisfies it)."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one normalised float32 row per text."""
        ...

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The texts' vectors and, from the same forward pass, a vector per character span of each text.

        A span's vector is the normalised mean of the token states inside it (see `pool_spans`).
        """
        ...


def pool_spans(hidden: np.ndarray, offsets: Sequence[tuple[int, int]], special: Sequence[int], spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Normalised mean of the token states lying inside each character span of one text.

    `hidden` holds one row per token (specials included, padding excluded), `offsets` each
    token's characters and `special` marks [CLS]/[SEP]. The states are those of the whole text:
    a sentence's vector carries the context of its passage (the title header, the sentences
    around it) and costs no forward pass of its own. A span without a token (cut off by
    truncation) gets a zero vector, which matches nothing.
    """
    dim = hidden.shape[1]
    out = np.zeros((len(spans), dim), dtype=np.float32)
    if not spans:
        return out
    starts = np.array([o[0] for o in offsets], dtype=np.int64)
    ends = np.array([o[1] for o in offsets], dtype=np.int64)
    keep = (np.asarray(special, dtype=bool) == 0) & (ends > starts)
    if not keep.any():
        return out
    starts, ends = starts[keep], ends[keep]
    lo = np.searchsorted(starts, [a for a, _ in spans], side="left")
    hi = np.searchsorted(ends, [b for _, b in spans], side="right")
    # One matrix product instead of a loop: row j of `member` marks the tokens of span j.
    token = np.arange(len(starts))
    member = ((token[None, :] >= lo[:, None]) & (token[None, :] < hi[:, None])).astype(np.float32)
    sums = member @ hidden[keep].astype(np.float32, copy=False)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    has = (hi > lo)[:, None] & (norms > 1e-12)
    # mean then normalise = sum then normalise
    out[:] = np.where(has, sums / np.where(has, norms, 1.0), 0.0)
    return out


def token_counts(tokenizer: Tokenizer, texts: Sequence[str]) -> list[int]:
    """Number of word-piece tokens in each text, without special tokens and without truncation."""
    return [len(enc.ids) for enc in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


@contextmanager
def ingesting(embedder: Embedder) -> Iterator[None]:
    """`OnnxEmbedder.ingesting` for embedders that have it; nothing for the others."""
    method = getattr(embedder, "ingesting", None)
    if method is None:
        yield
    else:
        with method():
            yield
