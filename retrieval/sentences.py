"""Sentence vectors of a chunk, pooled from the chunk's own forward pass and stored with it.

The extractive composer scores every sentence of the retrieved chunks against the question.
Embedding those sentences one by one at question time cost ~20 forward passes per answer; instead
each sentence's vector is the mean of the chunk's token states inside the sentence
(`embedding.pool_spans`), computed while the chunk is embedded at ingest and kept in the chunk's
metadata as float16. A chunk without them (written by an older ragbot, or by another splitter
version) gets them from one forward pass of its indexed text at question time: the same
function, so the scores are the same either way (up to float16 rounding).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np

from retrieval.chunking import chunk_header, indexed_text
from retrieval.embedding import Embedder
from retrieval.text import sentence_spans

# Bump when sentence_spans or the pooling changes: stored vectors of another format are recomputed.
FORMAT = 1
KEY = "sentences"
FORMAT_KEY = "sentences_format"


def spans_in_indexed(title: str, text: str) -> list[tuple[int, int]]:
    """The chunk's sentences as offsets into its indexed text (the title header comes first)."""
    header = chunk_header(title)
    shift = len(header) + 1 if header else 0
    return [(a + shift, b + shift) for a, b in sentence_spans(text)]


def encode(vectors: np.ndarray) -> str:
    """Sentence vectors as compact text for Chroma metadata (float16, base64)."""
    return base64.b64encode(np.asarray(vectors, dtype="<f2").tobytes()).decode("ascii")


def decode(meta: dict, dim: int) -> np.ndarray | None:
    """The stored sentence vectors of a chunk (float16 rows), or None when absent or of another format."""
    blob = meta.get(KEY)
    if not isinstance(blob, str) or meta.get(FORMAT_KEY) != FORMAT:
        return None
    try:
        raw = np.frombuffer(base64.b64decode(blob), dtype="<f2")
    except ValueError:
        return None
    if dim <= 0 or raw.size % dim:
        return None
    return raw.reshape(-1, dim)


def metadata(vectors: np.ndarray) -> dict[str, str | int]:
    """The metadata entries that store a chunk's sentence vectors."""
    return {KEY: encode(vectors), FORMAT_KEY: FORMAT}


def embed_chunks(embedder: Embedder, titles: Sequence[str], texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Chunk vectors (of the indexed texts) and each chunk's sentence vectors, in one pass."""
    indexed = [indexed_text(t, x) for t, x in zip(titles, texts, strict=True)]
    spans = [spans_in_indexed(t, x) for t, x in zip(titles, texts, strict=True)]
    return embedder.embed_spans(indexed, spans)
