"""Keyword analysis: the terms the keyword index holds (stems, no stopwords), question terms, idf coverage."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import snowballstemmer

from retrieval.text import words

# Very common English words carry no evidence of relevance; leaving them out keeps scores clean.
STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves"]
)


_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a word: "exercises" and "exercise" meet as "exercis"."""
    return str(_stemmer.stemWord(word))


def terms(text: str) -> list[str]:
    """Keyword-index terms of a text: lower-cased, plural-stemmed words without stopwords."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


# Words that say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset(
    ["mention", "mentioned", "mentions", "list", "listed", "name", "named", "describe", "described", "say", "said", "says", "tell", "told", "happen", "happened", "happens", "according", "article", "articles", "text", "passage", "report", "reported", "know", "explain"]
)


def question_terms(question: str) -> list[str]:
    """The terms of a question that its answer should contain."""
    return [stem(w) for w in words(question) if w not in STOPWORDS and w not in QUESTION_WORDS]


def coverage(question_terms: set[str], found: set[str], idf: Callable[[str], float]) -> float:
    """Share of the question terms' idf mass that `found` contains (0 for a question without terms)."""
    total = sum(idf(t) for t in question_terms)
    return sum(idf(t) for t in question_terms & found) / total if total else 0.0
