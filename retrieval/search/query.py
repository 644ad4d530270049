"""Questions as the engine takes them: cleaned and bounded, and a follow-up made into a standalone query."""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.errors import RagbotError
from retrieval.terms import QUESTION_WORDS, STOPWORDS, question_terms
from retrieval.text import words
from retrieval.types import Turn

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def clean_question(question: str, limit: int) -> str:
    """The question on one line without control characters; a clear error when it is empty or over `limit` characters."""
    question = _ANSI_ESCAPE.sub(" ", question)  # terminal colour codes pasted along with a question
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in question).split())
    if not cleaned:
        raise RagbotError("The question is empty: type a question about the articles.")
    if len(cleaned) > limit:
        raise RagbotError(f"The question is {len(cleaned):,} characters long; the limit is {limit:,} (RAGBOT_MAX_QUESTION_CHARS).")
    return cleaned


FOLLOW_UP_TERMS = 3
# Topic words a follow-up carries over: enough to find the passage again, few enough that the
# follow-up's own words still decide which of its sentences answers.
TOPIC_WORDS = 12
# Words by which a follow-up points back at the conversation ("where was that?", "who said it?");
# "this year" or "that week" point at a time, not back.
_REFERS_BACK = re.compile(
    r"\b(it|its|that|this|those|these|they|them|their|there|he|him|his|she|her|one|ones|former|latter|same)\b"
    r"(?!\s+(?:year|month|week|day|time)s?\b)",
    re.IGNORECASE,
)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1, "latter": -1, "former": 0}
_ORDINAL = re.compile(rf"\b({'|'.join(_ORDINALS)})\b", re.IGNORECASE)
_NAME = re.compile(r"\b(?:[A-Z][\w’'-]*|\d[\d.,]*)")


def contextual_query(question: str, history: Sequence[Turn]) -> str:
    """A standalone retrieval query for the question, given the conversation so far (oldest turn first).

    A question with enough terms of its own that does not point back is asked as is. A
    follow-up ("and where was that?", "what was the second one?") carries the topic: the last
    question's content words and the names and numbers of the latest answer that cited
    anything (a chain of follow-ups keeps only a pronoun of its topic, the quotes keep it all).
    An ordinal ("the second one") takes the words of that quote only. This is the one place
    a follow-up is rewritten.
    """
    if not history:
        return question
    if len(question_terms(question)) >= FOLLOW_UP_TERMS and not _REFERS_BACK.search(question):
        return question
    quotes = next((t.quotes for t in reversed(history) if t.quotes), ())
    ordinal = _ORDINAL.search(question)
    if ordinal:  # "the first one": of the latest answer that listed more than one thing
        index = _ORDINALS[ordinal.group(1).lower()]
        listed = next((t.quotes for t in reversed(history) if len(t.quotes) >= max(2, index + 1)), ())
        quotes = (listed[index],) if listed else quotes
    # The last question's words only stand in for quotes: they would outweigh the follow-up's own.
    asked = [] if quotes else [w for w in words(history[-1].question) if w not in STOPWORDS and w not in QUESTION_WORDS]
    named = [w for q in quotes for w in _NAME.findall(q) if w.lower() not in STOPWORDS]
    own = set(words(question))
    topic = list(dict.fromkeys(w for w in asked + named if w.lower() not in own))[:TOPIC_WORDS]
    return f"{question} {' '.join(topic)}".strip()
