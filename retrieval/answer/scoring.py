"""Sentence scoring shared by both composers: candidates, scores, and the confidence the abstention rule reads."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.answer.citations import Span, span_in_hit
from retrieval.answer.context import AnswerContext, SentenceLookup
from retrieval.embedding import Embedder
from retrieval.embedding.sentences import embed_chunks
from retrieval.terms import coverage, question_terms, terms
from retrieval.text import sentence_spans
from retrieval.types import Hit

_LIST_QUESTION = re.compile(
    r"^\s*(list|name|enumerate)\b|\b(which|what)\b.*\b(mentioned|listed|named|cited|discussed|described|reported|"
    r"included|involved|announced)\b|\b(all|every|each)\b.*\b(which|what)\b|\bwhat (are|were) (the|some)\b\s+\w+s\b",
    re.IGNORECASE,
)

# Weight of lexical coverage against the embedding similarity in a sentence's score.
LEXICAL_WEIGHT = 0.35

# The abstention rule (docs/retrieval.md, "Abstention, calibrated"): answer only when
#     best sentence score + COVERAGE_WEIGHT * retrieval coverage + DENSE_WEIGHT * best passage cosine >= ANSWER_THRESHOLD,
# where retrieval coverage is the largest share of the question's idf mass that one retrieved
# passage (with its title) contains, and the passage cosine is the question's similarity to the
# closest retrieved chunk. The weights are fitted on SQuAD questions asked of a library without
# their articles (bench/make_abstention_set.py, the "fit" half), the threshold the largest that
# refuses 5% of the fit half's answerable questions; docs/retrieval.md has the held-out check.
COVERAGE_WEIGHT = 0.8

DENSE_WEIGHT = 0.3

ANSWER_THRESHOLD = 1.1700


@dataclass(frozen=True)
class Scored:
    """A candidate sentence and how well it answers the question."""

    span: Span
    similarity: float
    coverage: float

    @property
    def score(self) -> float:
        """The combined score used to choose sentences."""
        return self.similarity + LEXICAL_WEIGHT * self.coverage


# "What events were ...", "Which treatments were ...": which/what, a plural noun, a verb.
_PLURAL_FOCUS = re.compile(
    r"^\s*(?:which|what)\s+(?:[\w-]+\s+){0,2}?([\w-]+?s)\s+(?:were|are|have|had|did|do|does|will|would|could|can)\b",
    re.IGNORECASE,
)


def is_list_question(question: str) -> bool:
    """Whether the question asks for every item of a kind ("what exercises were mentioned?")."""
    return bool(_LIST_QUESTION.search(question) or _PLURAL_FOCUS.search(question))


def list_focus(question: str) -> str | None:
    """The kind of item a list question asks for ("events" in "what events were mentioned?")."""
    m = _PLURAL_FOCUS.search(question)
    return m.group(1).lower() if m else None


def candidates(hits: Sequence[Hit]) -> list[Span]:
    """Every distinct sentence of the hits (but a headline), with document offsets."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Span] = []
    for hit in hits:
        title = " ".join(hit.title.split()).lower()
        for a, b in sentence_spans(hit.text):
            span = span_in_hit(hit, a, b)
            # The headline repeats the title: it names the subject but answers nothing.
            if " ".join(span.quote.split()).lower().rstrip(".") == title.rstrip("."):
                continue
            if span.key not in seen:
                seen.add(span.key)
                out.append(span)
    return out


def score_sentences(ctx: AnswerContext, spans: Sequence[Span], standalone: bool = False) -> list[Scored]:
    """Score each sentence by embedding similarity to the question plus idf-weighted term coverage.

    A sentence's vector is pooled from its chunk's forward pass (retrieval/embedding/sentences.py): read
    from what ingest stored (`ctx.stored`) or, for chunks without stored vectors, computed here.
    `standalone` embeds each sentence on its own instead (after its document's title): one
    forward pass per sentence, but sentences of one passage then differ more from each other,
    which list questions need (see `compose`).
    """
    if not spans:
        return []
    question, embedder = ctx.scored_text, ctx.embedder
    qv = embedder.embed([question])[0] if ctx.query_vector is None else ctx.query_vector
    if standalone:
        vecs = embedder.embed([f"{s.hit.title}: {s.quote}" if s.hit.title else s.quote for s in spans])
    else:
        vecs = sentence_vectors(spans, embedder, ctx.stored)
    sims = vecs @ qv
    q_terms = set(question_terms(question))
    focus = list_focus(question)
    if focus and len(q_terms) > 1:
        # Items of a list rarely repeat the name of their kind ("yoga", not "treatment"), while
        # sentences about the list as a whole do: the kind's name is no evidence for an item.
        q_terms -= set(terms(focus))
    out = []
    for span, sim in zip(spans, sims, strict=True):
        found = set(terms(span.quote)) | set(terms(span.hit.title))
        out.append(Scored(Span(span.hit, span.start, span.end, round(float(sim), 4)), float(sim), coverage(q_terms, found, ctx.idf)))
    return sorted(out, key=lambda s: -s.score)


def sentence_vectors(spans: Sequence[Span], embedder: Embedder, stored: SentenceLookup | None = None) -> np.ndarray:
    """One vector per span: its chunk's stored sentence vector, else pooled from a fresh pass over the chunk."""
    hits: dict[str, Hit] = {}
    for span in spans:
        hits.setdefault(span.hit.chunk_id, span.hit)
    local = {cid: sentence_spans(hit.text) for cid, hit in hits.items()}
    table: dict[str, np.ndarray] = {}
    for cid, hit in hits.items():
        vecs = stored(hit) if stored else None
        if vecs is not None and len(vecs) == len(local[cid]):
            table[cid] = vecs
    fresh = [hit for cid, hit in hits.items() if cid not in table]
    if fresh:
        _, parts = embed_chunks(embedder, [h.title for h in fresh], [h.text for h in fresh])
        table.update({hit.chunk_id: part for hit, part in zip(fresh, parts, strict=True)})
    out = np.zeros((len(spans), embedder.dim), dtype=np.float32)
    for row, span in enumerate(spans):
        cid = span.hit.chunk_id
        out[row] = table[cid][local[cid].index((span.start - span.hit.start, span.end - span.hit.start))]
    return out


def retrieval_coverage(question: str, hits: Sequence[Hit], idf: Callable[[str], float]) -> float:
    """The largest share of the question's idf mass found in one retrieved passage and its title."""
    q_terms = set(question_terms(question))
    return max((coverage(q_terms, set(terms(h.text)) | set(terms(h.title)), idf) for h in hits), default=0.0)


def confidence(scored: Sequence[Scored], coverage: float, hits: Sequence[Hit] = ()) -> float:
    """The number the abstention rule compares with ANSWER_THRESHOLD."""
    dense = max((h.dense or 0.0 for h in hits), default=0.0)
    return (scored[0].score if scored else 0.0) + COVERAGE_WEIGHT * coverage + DENSE_WEIGHT * dense


def answer_confidence(ctx: AnswerContext, scored: Sequence[Scored]) -> float:
    """The confidence of an answer from these scored sentences (what the abstention rule and the LLM gate read)."""
    return confidence(scored, retrieval_coverage(ctx.scored_text, ctx.hits, ctx.idf), ctx.hits)
