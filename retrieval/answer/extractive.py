"""The extractive composer: picks the retrieved sentences that answer the question, each cited."""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.answer.citations import number
from retrieval.answer.context import AnswerContext
from retrieval.answer.scoring import (
    ANSWER_THRESHOLD,
    Scored,
    answer_confidence,
    candidates,
    is_list_question,
    score_sentences,
)
from retrieval.terms import terms
from retrieval.types import CANNOT_ANSWER, Answer

# Sentences this close to the best one join the answer (a wider margin for list questions).
MARGIN = 0.10

LIST_MARGIN = 0.20

MAX_SENTENCES = 3

MAX_LIST_SENTENCES = 9

# A list answer starts from at most this many best sentences, then follows the enumeration.
LIST_CORE = 6


def select(scored: Sequence[Scored], list_question: bool, extra: int = 0) -> list[Scored]:
    """The sentences that make the answer, best first (`extra` more allowed: to learn whether a list goes on)."""
    if not scored:
        return []
    best = scored[0].score
    margin, most = (LIST_MARGIN, MAX_LIST_SENTENCES + extra) if list_question else (MARGIN, MAX_SENTENCES)
    chosen = [s for s in scored[: LIST_CORE if list_question else most] if s.score >= best - margin]
    if list_question:
        chosen = _with_listed_neighbours(chosen, scored, most)
    return chosen


# "X also did Y", "another ...", "a second group": the sentence continues an enumeration.
_ADDITIVE = re.compile(
    r"\b(also|too|as well|another|in addition|additionally|likewise|similarly|besides|second|third|fourth|fifth|"
    r"other|others|remaining|finally|lastly)\b",
    re.IGNORECASE,
)


def _with_listed_neighbours(chosen: list[Scored], scored: Sequence[Scored], most: int) -> list[Scored]:
    """Add the items an enumeration links to a chosen sentence ("... also conducted joint drills").

    A chosen sentence with an additive cue pulls in the sentence before it (what "also" refers
    to); the following sentence, if it shares a content word with the chosen one and either of
    the two has such a cue, is pulled in too, and so on along the enumeration.
    """
    by_hit: dict[str, list[Scored]] = {}
    for s in scored:
        by_hit.setdefault(s.span.hit.chunk_id, []).append(s)
    for group in by_hit.values():
        group.sort(key=lambda s: s.span.start)
    keys = {s.span.key for s in chosen}
    queue = list(chosen)
    while queue and len(chosen) < most:
        anchor = queue.pop(0)
        group = by_hit[anchor.span.hit.chunk_id]
        i = next(n for n, s in enumerate(group) if s.span.key == anchor.span.key)
        pairs = []
        anchor_cue = _ADDITIVE.search(anchor.span.quote)
        if i > 0 and anchor_cue:
            pairs.append(group[i - 1])
        # The next sentence continues the enumeration when it shares a content word with this one
        # and either says so ("another ...") or this one was already mid-list ("also ...").
        if (
            i + 1 < len(group)
            and (anchor_cue or _ADDITIVE.search(group[i + 1].span.quote))
            and set(terms(group[i + 1].span.quote)) & set(terms(anchor.span.quote))
        ):
            pairs.append(group[i + 1])
        for other in pairs:
            if other.span.key not in keys and len(chosen) < most:
                keys.add(other.span.key)
                chosen.append(other)
                queue.append(other)
    return chosen[:most]


def compose(ctx: AnswerContext, scored: Sequence[Scored] | None = None) -> Answer:
    """An extractive answer: the chosen source sentences, each followed by its marker.

    `scored` passes sentence scores already computed for these hits (the generative path has them).
    """
    question, hits = ctx.question, list(ctx.hits)
    spans = candidates(hits)
    if scored is None:
        scored = score_sentences(ctx, spans)
    sure = answer_confidence(ctx, scored)
    listing = is_list_question(ctx.scored_text)
    if listing and sure >= ANSWER_THRESHOLD:
        # A list's items sit side by side in one passage; pooled vectors share that passage's
        # context and hardly tell the items from the sentences around them, so the items are
        # chosen by standalone sentence embeddings (tests/test_quality.py's list questions hold
        # it to that). Whether to answer at all stays with the calibrated rule above.
        scored = score_sentences(ctx, spans, standalone=True)
    chosen = select(scored, listing, extra=1) if sure >= ANSWER_THRESHOLD else []
    more = listing and len(chosen) > MAX_LIST_SENTENCES  # the list went on past what an answer holds
    chosen = chosen[:MAX_LIST_SENTENCES] if listing else chosen
    if not chosen:
        return Answer(question=question, text=CANNOT_ANSWER, citations=[], answerable=False, hits=hits, confidence=sure)
    # Read in document order within a document, documents in order of their best sentence.
    doc_rank: dict[str, int] = {}  # doc_id -> its place in the answer
    for s in chosen:
        doc_rank.setdefault(s.span.hit.doc_id, len(doc_rank))
    chosen = sorted(chosen, key=lambda s: (doc_rank[s.span.hit.doc_id], s.span.start))
    text, citations = number([(_as_sentence(s.span.quote), [s.span]) for s in chosen])
    return Answer(
        question=question, text=text, citations=citations, answerable=True, hits=hits, confidence=sure, more=more
    )


def _as_sentence(quote: str) -> str:
    """A quote as an answer sentence: one line, ending in punctuation."""
    one_line = " ".join(quote.split())
    return one_line if one_line[-1:] in ".!?\"'”’)" else one_line + "."
