"""Sentence-aware chunks sized for the model's window, with exact character offsets."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval.embedding import MAX_TOKENS, Tokenizer, token_counts
from retrieval.text import chunk_header, sentence_spans
from retrieval.types import Chunk, Document

# [CLS] and [SEP] take two places in the model's window.
_SPECIAL = 2


def _split_long(tokenizer: Tokenizer, text: str, a: int, b: int, budget: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence at token boundaries into pieces of at most `budget` tokens."""
    enc = tokenizer.encode_batch([text[a:b]], add_special_tokens=False)[0]
    offsets = [(a + s, a + e) for s, e in enc.offsets]
    pieces: list[tuple[int, int]] = []
    i = 0
    while i < len(offsets):
        j = min(i + budget, len(offsets))
        # Prefer to end a piece at a word boundary: back off while the next token continues a word.
        if j < len(offsets):
            k = j
            while k > i + budget // 2 and offsets[k][0] == offsets[k - 1][1]:
                k -= 1
            j = k
        pieces.append((offsets[i][0], offsets[j - 1][1]))
        i = j
    return pieces


def chunk_documents(
    docs: Sequence[Document], tokenizer: Tokenizer, max_tokens: int = 200, overlap_tokens: int = 40
) -> list[list[Chunk]]:
    """`chunk_document` for many documents, with one tokenizer call for all their texts and titles.

    A sentence's token count is read off its document's encoding (the tokenizer splits words at
    spaces and punctuation, so a sentence's tokens are the same alone or in its text); a document
    whose sentence boundaries fall inside a token is counted sentence by sentence instead.
    """
    if not docs:
        return []
    encodings = tokenizer.encode_batch([d.text for d in docs] + [chunk_header(d.title) for d in docs], add_special_tokens=False)
    return [
        _chunk(doc, tokenizer, max_tokens, overlap_tokens, encodings[i], len(encodings[len(docs) + i].ids))
        for i, doc in enumerate(docs)
    ]


def chunk_document(
    doc: Document, tokenizer: Tokenizer, max_tokens: int = 200, overlap_tokens: int = 40
) -> list[Chunk]:
    """Split a document into chunks of whole sentences that fit the window with the title header."""
    return chunk_documents([doc], tokenizer, max_tokens, overlap_tokens)[0]


def _span_counts(spans: Sequence[tuple[int, int]], encoding: Any) -> list[int] | None:
    """Tokens inside each span, from the whole text's encoding; None if a token crosses a span's edge."""
    offsets = [(a, b) for a, b in encoding.offsets if b > a]
    starts = np.fromiter((a for a, _ in offsets), dtype=np.int64, count=len(offsets))
    ends = np.fromiter((b for _, b in offsets), dtype=np.int64, count=len(offsets))
    if len(encoding.ids) != len(offsets) or (len(ends) > 1 and bool((ends[:-1] > starts[1:]).any())):
        return None  # a token without characters, or overlapping tokens: count the slow way
    if not offsets:
        return [0] * len(spans)  # nothing the tokenizer keeps (zero-width characters only)
    edges = np.array(spans, dtype=np.int64)
    first = np.searchsorted(starts, edges[:, 0], side="left")
    past = np.searchsorted(ends, edges[:, 1], side="right")
    # A token straddles a span's start (or end) when one begins before it and ends inside it.
    straddle_start = (first > 0) & (ends[np.maximum(first - 1, 0)] > edges[:, 0])
    straddle_end = (past < len(starts)) & (starts[np.minimum(past, len(starts) - 1)] < edges[:, 1])
    if bool((straddle_start | straddle_end).any()):
        return None
    return [int(n) for n in np.maximum(past - first, 0)]


def _chunk(doc: Document, tokenizer: Tokenizer, max_tokens: int, overlap_tokens: int, encoding: Any, title_tokens: int) -> list[Chunk]:
    header_tokens = title_tokens + 1 if doc.title.strip() else 0
    budget = max(16, min(max_tokens, MAX_TOKENS - _SPECIAL - header_tokens))
    spans = sentence_spans(doc.text)
    if not spans:
        return []
    counts = _span_counts(spans, encoding)
    if counts is None:
        counts = token_counts(tokenizer, [doc.text[a:b] for a, b in spans])
    units: list[tuple[int, int, int]] = []
    for (a, b), n in zip(spans, counts, strict=True):
        if n <= budget:
            units.append((a, b, n))
        else:
            pieces = _split_long(tokenizer, doc.text, a, b, budget)
            units.extend((pa, pb, n2) for (pa, pb), n2 in zip(pieces, token_counts(tokenizer, [doc.text[pa:pb] for pa, pb in pieces]), strict=True))
    groups = _group(units, budget, overlap_tokens)
    chunks = []
    for ordinal, (first, last) in enumerate(groups):
        start, end = units[first][0], units[last][1]
        chunks.append(
            Chunk(
                chunk_id=chunk_id(doc.doc_id, ordinal, doc.content_hash),
                doc_id=doc.doc_id,
                text=doc.text[start:end],
                start=start,
                end=end,
                ordinal=ordinal,
            )
        )
    return chunks


def _group(units: Sequence[tuple[int, int, int]], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy packing of sentence units into (first, last) index ranges with a sentence overlap."""
    groups: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        total = units[i][2]
        j = i
        while j + 1 < len(units) and total + units[j + 1][2] + 1 <= budget:
            j += 1
            total += units[j][2] + 1
        groups.append((i, j))
        if j + 1 >= len(units):
            break
        # Start the next chunk with as many trailing sentences as fit in the overlap, but always move on.
        k, carried = j + 1, 0
        while k - 1 > i and carried + units[k - 1][2] <= overlap:
            k -= 1
            carried += units[k][2]
        i = k
    return groups


def chunk_id(doc_id: str, ordinal: int, version: str) -> str:
    """A chunk id unique to the document, its version and its position."""
    digest = hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:16]
    return f"{digest}-{version[:8]}-{ordinal:05d}"
