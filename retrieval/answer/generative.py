"""Generative answers: a language model drafts, the verifier decides what the user sees."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.language_models.chat_models import BaseChatModel

from retrieval.answer import passages, prompts
from retrieval.answer.citations import number
from retrieval.answer.context import AnswerContext
from retrieval.answer.extractive import compose
from retrieval.answer.scoring import answer_confidence, candidates, is_list_question, score_sentences
from retrieval.answer.verify import verify
from retrieval.llm import chat_model, check_generator, stream_reply
from retrieval.settings import Settings
from retrieval.types import CANNOT_ANSWER, Answer

FALLBACK = "extractive-fallback"
# Why a generative answer is the cannot-answer reply (a dropped entry's reason; the REPL's :why reads them).
MODEL_SAID_NO = "the model found no answer in the passages"
MODEL_LEANED_NO = "the model leaned towards finding no answer"


def generate(
    ctx: AnswerContext,
    settings: Settings,
    generator: str | None = None,
    on_token: Callable[[str], None] | None = None,
    model: BaseChatModel | None = None,
) -> Answer:
    """A verified generative answer, the cannot-answer reply, or the extractive answer when no generated sentence survives.

    No model is called when the question is plainly off-topic for the hits (the cheap gate);
    when the model says the passages do not answer, that is the answer too. `model` replaces
    the configured backend.
    """
    generator = check_generator(generator or settings.generator)
    question, query, hits = ctx.question, ctx.scored_text, list(ctx.hits)
    scored = score_sentences(ctx, candidates(hits))
    sure = answer_confidence(ctx, scored)

    def cannot(said: str = "", reason: str = "", refusal: float | None = None) -> Answer:
        dropped = [{"sentence": said or "(nothing)", "markers": [], "reason": reason}] if reason else []
        return Answer(question=question, text=CANNOT_ANSWER, citations=[], answerable=False, generator=generator,
                      dropped=dropped, hits=hits, confidence=sure, refusal=refusal)

    if sure < settings.llm_gate:
        return cannot()
    listing = is_list_question(query)
    shown = passages.passages(hits, scored, listing)
    chat = model or chat_model(settings, generator)
    prime = getattr(chat, "prime", None)  # llama.cpp in this process: hold the fixed prefix (a fresh process loads it saved)
    if prime is not None:
        prime(prompts.prefix())
    raw, meta = stream_reply(chat, prompts.messages(query, shown, listing), settings, generator, on_token)
    refusal = meta.get("refusal_probability")
    if meta.get("refused_early"):
        return cannot(reason=f"{MODEL_LEANED_NO} (p = {refusal:.2f} of starting the cannot-answer reply)", refusal=refusal)
    checked = verify(raw, [p.hit for p in shown], ctx.embedder, settings.llm_support_threshold, question=query)
    if checked.kept:
        text, citations = number(checked.kept)
        return Answer(question=question, text=text, citations=citations, answerable=True, generator=generator,
                      dropped=checked.dropped, hits=hits, confidence=sure, refusal=refusal)
    if checked.abstained:
        return cannot(said=" ".join(raw.split())[:300], reason=MODEL_SAID_NO, refusal=refusal)
    answer = compose(ctx, scored=scored)
    answer.generator = FALLBACK
    answer.dropped = checked.dropped
    answer.refusal = refusal
    return answer
