"""The default composer: picks the retrieved sentences that answer the question, each cited."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.answer.citations import Span, number, span_in_hit
from retrieval.embedding import Embedder
from retrieval.keyword import coverage, question_terms, terms
from retrieval.sentences import embed_chunks
from retrieval.text import sentence_spans
from retrieval.types import CANNOT_ANSWER, Answer, Hit

# A chunk's stored sentence vectors (one row per sentence of its text), or None.
StoredVectors = Callable[[Hit], "np.ndarray | None"]

_LIST_QUESTION = re.compile(
    r"^\s*(list|name|enumerate)\b|\b(which|what)\b.*\b(mentioned|listed|named|cited|discussed|described|reported|"
    r"included|involved|announced)\b|\b(all|every|each)\b.*\b(which|what)\b|\bwhat (are|were) (the|some)\b\s+\w+s\b",
    re.IGNORECASE,
)

# Weight of lexical coverage against the embedding similarity in a sentence's score.
LEXICAL_WEIGHT = 0.35
# The abstention rule (README, "Abstention"): answer only when
#     best sentence score + COVERAGE_WEIGHT * retrieval coverage + DENSE_WEIGHT * best passage cosine >= ANSWER_THRESHOLD,
# where retrieval coverage is the largest share of the question's idf mass that one retrieved
# passage (with its title) contains, and the passage cosine is the question's similarity to the
# closest retrieved chunk. Weights chosen on SQuAD questions asked of a library without their
# articles (bench/make_abstention_set.py, the "fit" half), the threshold the largest that refuses
# 5% of the fit half's answerable questions; checked on the other half with `ragbot eval`: 90.7%
# of unanswerable questions abstained, 5.0% of answerable ones refused (onnx-int8, README "Abstention").
COVERAGE_WEIGHT = 0.8
DENSE_WEIGHT = 0.3
ANSWER_THRESHOLD = 1.1700
# Sentences this close to the best one join the answer (a wider margin for list questions).
MARGIN = 0.10
LIST_MARGIN = 0.20
MAX_SENTENCES = 3
MAX_LIST_SENTENCES = 9
# A list answer starts from at most this many best sentences, then follows the enumeration.
LIST_CORE = 6


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


def score_sentences(
    question: str,
    spans: Sequence[Span],
    embedder: Embedder,
    idf: Callable[[str], float],
    question_vector: np.ndarray | None = None,
    stored: StoredVectors | None = None,
    standalone: bool = False,
) -> list[Scored]:
    """Score each sentence by embedding similarity to the question plus idf-weighted term coverage.

    A sentence's vector is pooled from its chunk's forward pass (retrieval/sentences.py): read
    from what ingest stored (`stored`) or, for chunks without stored vectors, computed here.
    `standalone` embeds each sentence on its own instead (after its document's title): one
    forward pass per sentence, but sentences of one passage then differ more from each other,
    which list questions need (see `compose`).
    """
    if not spans:
        return []
    qv = embedder.embed([question])[0] if question_vector is None else question_vector
    if standalone:
        vecs = embedder.embed([f"{s.hit.title}: {s.quote}" if s.hit.title else s.quote for s in spans])
    else:
        vecs = sentence_vectors(spans, embedder, stored)
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
        out.append(Scored(Span(span.hit, span.start, span.end, round(float(sim), 4)), float(sim), coverage(q_terms, found, idf)))
    return sorted(out, key=lambda s: -s.score)


def sentence_vectors(spans: Sequence[Span], embedder: Embedder, stored: StoredVectors | None = None) -> np.ndarray:
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


def relevant(question: str, hits: Sequence[Hit], scored: Sequence[Scored], idf: Callable[[str], float]) -> bool:
    """Whether the abstention rule lets the hits answer the question at all."""
    return confidence(scored, retrieval_coverage(question, hits, idf), hits) >= ANSWER_THRESHOLD


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
        if i + 1 < len(group) and (anchor_cue or _ADDITIVE.search(group[i + 1].span.quote)):
            if set(terms(group[i + 1].span.quote)) & set(terms(anchor.span.quote)):
                pairs.append(group[i + 1])
        for other in pairs:
            if other.span.key not in keys and len(chosen) < most:
                keys.add(other.span.key)
                chosen.append(other)
                queue.append(other)
    return chosen[:most]


def compose(
    question: str,
    hits: Sequence[Hit],
    embedder: Embedder,
    idf: Callable[[str], float],
    question_vector: np.ndarray | None = None,
    stored: StoredVectors | None = None,
    scored: Sequence[Scored] | None = None,
) -> Answer:
    """An extractive answer: the chosen source sentences, each followed by its marker.

    `scored` passes sentence scores already computed for these hits (the generative path has them).
    """
    spans = candidates(hits)
    if scored is None:
        scored = score_sentences(question, spans, embedder, idf, question_vector, stored)
    sure = confidence(scored, retrieval_coverage(question, hits, idf), hits)
    listing = is_list_question(question)
    if listing and sure >= ANSWER_THRESHOLD:
        # A list's items sit side by side in one passage; pooled vectors share that passage's
        # context and hardly tell the items from the sentences around them, so the items are
        # chosen by standalone sentence embeddings (tests/test_quality.py's list questions: with
        # pooled vectors two of four festival events were missed). Whether to answer at all
        # stays with the calibrated rule above.
        scored = score_sentences(question, spans, embedder, idf, question_vector, standalone=True)
    chosen = select(scored, listing, extra=1) if sure >= ANSWER_THRESHOLD else []
    more = listing and len(chosen) > MAX_LIST_SENTENCES  # the list went on past what an answer holds
    chosen = chosen[:MAX_LIST_SENTENCES] if listing else chosen
    if not chosen:
        return Answer(question=question, text=CANNOT_ANSWER, citations=[], answerable=False, hits=list(hits), confidence=sure)
    # Read in document order within a document, documents in order of their best sentence.
    doc_rank = {}
    for s in chosen:
        doc_rank.setdefault(s.span.hit.doc_id, len(doc_rank))
    chosen = sorted(chosen, key=lambda s: (doc_rank[s.span.hit.doc_id], s.span.start))
    text, citations = number([(_as_sentence(s.span.quote), [s.span]) for s in chosen])
    return Answer(
        question=question, text=text, citations=citations, answerable=True, hits=list(hits), confidence=sure, more=more
    )


def _as_sentence(quote: str) -> str:
    """A quote as an answer sentence: one line, ending in punctuation."""
    one_line = " ".join(quote.split())
    return one_line if one_line[-1:] in ".!?\"'”’)" else one_line + "."
