"""Sentence vectors of a chunk, pooled from the chunk's own forward pass and stored with it.

The extractive composer scores every sentence of the retrieved chunks against the question.
Rather than a forward pass per sentence at question time, each sentence's vector is the mean of
the chunk's token states inside the sentence (`pool_spans`), computed while the chunk is
embedded at ingest and kept as 4-bit integers with one scale per sentence: in the keyword index on disk (a
local library) or in the chunk's Chroma metadata (a Chroma server, so every process reads them),
and read for the k retrieved chunks only. A chunk without them (stored without, or by another
splitter version) gets them from one forward pass of its indexed text at question time: the
same function, so the scores are the same either way (up to the 4-bit rounding).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np

from retrieval.embedding import Embedder
from retrieval.text import chunk_header, indexed_text, sentence_spans

# Bump when sentence_spans or the pooling changes: stored vectors of another format are recomputed.
# Format 3 stores 4-bit rows with one float32 scale each (196 bytes for 384 dimensions); formats 2
# (int8, 388 bytes) and 1 (float16) still read. The cost of 4 bits is measured in docs/scale.md.
FORMAT = 3
KEY = "sentences"
FORMAT_KEY = "sentences_format"
_NIBBLES = 0xF4  # first byte of a format-3 blob: a format-2 blob's length is a multiple of dim + 4, this one's is not
_LEVELS = 7  # components are rounded to -7..7 times the row's scale


def spans_in_indexed(title: str, text: str) -> list[tuple[int, int]]:
    """The chunk's sentences as offsets into its indexed text (the title header comes first)."""
    header = chunk_header(title)
    shift = len(header) + 1 if header else 0
    return [(a + shift, b + shift) for a, b in sentence_spans(text)]


def to_bytes(vectors: np.ndarray) -> bytes:
    """Sentence vectors as 4-bit rows, each scaled by its largest component: a marker byte, the float32 scales, the packed rows."""
    v = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    if v.shape[1] % 2:
        v = np.pad(v, ((0, 0), (0, 1)))
    scale = np.abs(v).max(axis=1) / _LEVELS if v.size else np.zeros(len(v), np.float32)
    q = (np.rint(v / np.where(scale == 0, 1.0, scale)[:, None]).clip(-_LEVELS, _LEVELS) + 8).astype(np.uint8)
    packed = (q[:, 0::2] << 4) | q[:, 1::2]
    return bytes([_NIBBLES]) + scale.astype("<f4").tobytes() + packed.tobytes()


def from_bytes(blob: bytes, dim: int) -> np.ndarray | None:
    """Sentence vectors stored by `to_bytes` (or as int8 rows, format 2) as float32 rows, or None when the blob does not fit `dim`."""
    if dim <= 0:
        return None
    half = (dim + 1) // 2
    if blob[:1] == bytes([_NIBBLES]) and (len(blob) - 1) % (half + 4) == 0 and len(blob) % (dim + 4):
        n = (len(blob) - 1) // (half + 4)
        scale = np.frombuffer(blob[1 : 1 + 4 * n], dtype="<f4")
        packed = np.frombuffer(blob[1 + 4 * n :], dtype=np.uint8).reshape(n, half)
        q = np.empty((n, 2 * half), dtype=np.float32)
        q[:, 0::2], q[:, 1::2] = packed >> 4, packed & 0x0F
        return (q[:, :dim] - 8.0) * scale[:, None]
    if len(blob) % (dim + 4):
        return None
    n = len(blob) // (dim + 4)
    scale = np.frombuffer(blob[: 4 * n], dtype="<f4")
    q8 = np.frombuffer(blob[4 * n :], dtype=np.int8).reshape(n, dim)
    return q8.astype(np.float32) * scale[:, None]


def encode(vectors: np.ndarray) -> str:
    """Sentence vectors as compact text for Chroma metadata (`to_bytes`, base64)."""
    return base64.b64encode(to_bytes(vectors)).decode("ascii")


def decode(meta: dict, dim: int) -> np.ndarray | None:
    """The stored sentence vectors of a chunk (float32 rows), or None when absent or of another format."""
    blob = meta.get(KEY)
    fmt = meta.get(FORMAT_KEY)
    if not isinstance(blob, str) or fmt not in (1, 2, FORMAT):
        return None
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        return None
    if fmt in (2, FORMAT):
        return from_bytes(raw, dim)
    if dim <= 0 or len(raw) % (2 * dim):
        return None
    return np.frombuffer(raw, dtype="<f2").reshape(-1, dim).astype(np.float32)


def metadata(vectors: np.ndarray) -> dict[str, str | int]:
    """The metadata entries that store a chunk's sentence vectors."""
    return {KEY: encode(vectors), FORMAT_KEY: FORMAT}


def embed_chunks(embedder: Embedder, titles: Sequence[str], texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Chunk vectors (of the indexed texts) and each chunk's sentence vectors, in one pass."""
    indexed = [indexed_text(t, x) for t, x in zip(titles, texts, strict=True)]
    spans = [spans_in_indexed(t, x) for t, x in zip(titles, texts, strict=True)]
    return embedder.embed_spans(indexed, spans)
