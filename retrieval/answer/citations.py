"""Numbering of citations: markers 1..N in order of first use, each resolving to an exact quote."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.text import without_markers
from retrieval.types import Citation, Hit


@dataclass(frozen=True)
class Span:
    """A quote inside a retrieved chunk, with offsets into its document's text."""

    hit: Hit
    start: int  # into the document
    end: int
    support: float | None = None

    @property
    def quote(self) -> str:
        """The quoted text: `hit.text` is `document.text[hit.start:hit.end]`."""
        return self.hit.text[self.start - self.hit.start : self.end - self.hit.start]

    @property
    def key(self) -> tuple[str, int, int]:
        """Identity of the quote within the library."""
        return (self.hit.doc_id, self.start, self.end)


def span_in_hit(hit: Hit, a: int, b: int, support: float | None = None) -> Span:
    """A span given by offsets relative to the hit's text."""
    return Span(hit, hit.start + a, hit.start + b, support)


def number(sentences: Sequence[tuple[str, Sequence[Span]]]) -> tuple[str, list[Citation]]:
    """Join answer sentences with their `[n]` markers; the same quote keeps the same number."""
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for text, spans in sentences:
        marks: list[int] = []
        for span in spans:
            n = numbers.get(span.key)
            if n is None:
                n = numbers[span.key] = len(citations) + 1
                h = span.hit
                citations.append(
                    Citation(n=n, doc_id=h.doc_id, source=h.source, title=h.title, chunk_id=h.chunk_id,
                             quote=span.quote, start=span.start, end=span.end, support=span.support)
                )
            if n not in marks:
                marks.append(n)
        # A "[3]" written in a quoted source must not read as a marker; the citation's quote stays exact.
        parts.append(without_markers(text.rstrip()) + (" " + "".join(f"[{n}]" for n in marks) if marks else ""))
    return " ".join(parts), citations
