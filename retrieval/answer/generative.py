"""Generative answers: a language model drafts, the verifier decides what the user sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel

from retrieval.answer import context, prompts
from retrieval.answer.citations import number
from retrieval.answer.extractive import (
    StoredVectors, candidates, compose, confidence, is_list_question, retrieval_coverage, score_sentences,
)
from retrieval.answer.verify import verify
from retrieval.embedding import Embedder
from retrieval.llm import chat_model, check_generator, stream_text
from retrieval.settings import Settings
from retrieval.types import CANNOT_ANSWER, Answer, Hit

FALLBACK = "extractive-fallback"


def generate(
    question: str,
    hits: Sequence[Hit],
    settings: Settings,
    embedder: Embedder,
    idf: Callable[[str], float],
    question_vector: np.ndarray | None = None,
    generator: str | None = None,
    on_token: Callable[[str], None] | None = None,
    model: BaseChatModel | None = None,
    stored: StoredVectors | None = None,
) -> Answer:
    """A verified generative answer, the cannot-answer reply, or the extractive answer when no generated sentence survives.

    No model is called when the question is plainly off-topic for the hits (the cheap gate);
    when the model says the passages do not answer, that is the answer too. `model` replaces
    the configured backend; `stored` gives the chunks' stored sentence vectors.
    """
    generator = check_generator(generator or settings.generator)
    scored = score_sentences(question, candidates(hits), embedder, idf, question_vector, stored)
    sure = confidence(scored, retrieval_coverage(question, hits, idf), hits)
    if sure < settings.llm_gate:
        return Answer(question=question, text=CANNOT_ANSWER, citations=[], answerable=False, generator=generator,
                      hits=list(hits), confidence=sure)
    listing = is_list_question(question)
    shown = context.passages(hits, scored, listing)
    chat = model or chat_model(settings, generator)
    raw = stream_text(chat, prompts.messages(question, shown, listing), settings, generator, on_token)
    checked = verify(raw, [p.hit for p in shown], embedder, settings.llm_support_threshold, question=question)
    if checked.kept:
        text, citations = number(checked.kept)
        return Answer(question=question, text=text, citations=citations, answerable=True, generator=generator,
                      dropped=checked.dropped, hits=list(hits), confidence=sure)
    if checked.abstained:
        said = " ".join(raw.split())[:300] or "(nothing)"
        return Answer(question=question, text=CANNOT_ANSWER, citations=[], answerable=False, generator=generator,
                      dropped=[{"sentence": said, "markers": [], "reason": "the model found no answer in the passages"}],
                      hits=list(hits), confidence=sure)
    answer = compose(question, hits, embedder, idf, question_vector, scored=scored)
    answer.generator = FALLBACK
    answer.dropped = checked.dropped
    return answer
