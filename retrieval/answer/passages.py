"""What a language model reads: the best-scored sentences, grouped by passage.

Five whole chunks are ~1,200 tokens, most of them beside the point; the model reads them slowly
and is drawn to whatever they say. The excerpts here are exact spans of the chunks, so the
passages the model cites are still the retrieved chunks and every quote stays checkable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.answer.scoring import Scored
from retrieval.text import sentence_spans
from retrieval.types import Hit

# Sentences chosen by score (more for list questions, whose items sit side by side).
TOP_SENTENCES = 6
TOP_LIST_SENTENCES = 10
# Sentences of context on each side of a chosen one. With none the prompt is a third shorter (the model reads it
# a third faster) and answers as well on SQuAD and the sample article (docs/generative.md, "How much the model reads").
# A list question keeps one: its items sit side by side, and shown without the sentences around them the model
# padded the sample article's list of exercises with a meeting and an arrival.
NEIGHBOURS = 0
LIST_NEIGHBOURS = 1


@dataclass(frozen=True)
class Passage:
    """One numbered passage as shown: a retrieved chunk and the excerpts of it (offsets into `hit.text`)."""

    hit: Hit
    excerpts: tuple[tuple[int, int], ...]

    @property
    def text(self) -> str:
        """The excerpts in document order, gaps marked with an ellipsis."""
        return " … ".join(" ".join(self.hit.text[a:b].split()) for a, b in self.excerpts)


def passages(hits: Sequence[Hit], scored: Sequence[Scored], listing: bool = False) -> list[Passage]:
    """The chunks holding the best sentences, best first, each cut to those sentences (and their neighbours, for a list question)."""
    top = scored[: TOP_LIST_SENTENCES if listing else TOP_SENTENCES]
    around = LIST_NEIGHBOURS if listing else NEIGHBOURS
    by_chunk: dict[str, set[int]] = {}
    order: list[str] = []
    spans_of = {h.chunk_id: sentence_spans(h.text) for h in hits}
    for s in top:
        hit = s.span.hit
        local = (s.span.start - hit.start, s.span.end - hit.start)
        spans = spans_of.get(hit.chunk_id, [])
        if local not in spans:
            continue
        i = spans.index(local)
        chosen = by_chunk.setdefault(hit.chunk_id, set())
        if hit.chunk_id not in order:
            order.append(hit.chunk_id)
        chosen.update(range(max(0, i - around), min(len(spans), i + around + 1)))
    hits_by_id = {h.chunk_id: h for h in hits}
    out = []
    for cid in order:
        spans = spans_of[cid]
        picked = sorted(by_chunk[cid])
        runs: list[tuple[int, int]] = []
        for i in picked:  # contiguous sentences become one excerpt
            if runs and i == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))
        out.append(Passage(hits_by_id[cid], tuple((spans[a][0], spans[b][1]) for a, b in runs)))
    return out
