"""`AnswerContext`: everything an answer is composed from, gathered once by `Library.ask`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.embedding import Embedder
from retrieval.types import Hit

# A chunk's stored sentence vectors (one row per sentence of its text), or None when it has none.
SentenceLookup = Callable[[Hit], "np.ndarray | None"]


@dataclass(frozen=True)
class AnswerContext:
    """A question, what was retrieved for it, and what scoring its sentences needs.

    `question` is what the user asked (the answer shows it); `query` is what was retrieved and
    scored with (a follow-up carries its topic, see `retrieval.search.query.contextual_query`).
    """

    question: str
    hits: Sequence[Hit]
    embedder: Embedder
    idf: Callable[[str], float]
    query: str = ""
    query_vector: np.ndarray | None = None
    stored: SentenceLookup | None = None

    @property
    def scored_text(self) -> str:
        """The text sentences are scored against: the retrieval query, else the question."""
        return self.query or self.question
