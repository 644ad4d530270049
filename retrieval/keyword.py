"""BM25 (Okapi) over the same chunks as the vectors, as a sparse matrix for fast scoring."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import snowballstemmer

from retrieval.text import words

# Very common English words carry no evidence of relevance; leaving them out keeps scores clean.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom whose why will with would
    you your yours yourself yourselves""".split()
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
    """mention mentioned mentions list listed name named describe described say said says tell told happen
    happened happens according article articles text passage report reported know explain""".split()
)


def question_terms(question: str) -> list[str]:
    """The terms of a question that its answer should contain."""
    return [stem(w) for w in words(question) if w not in STOPWORDS and w not in QUESTION_WORDS]


class BM25Index:
    """Okapi BM25 (Lucene's idf); `scores(query)` returns one score per indexed text."""

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.size = len(texts)
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        lengths = np.zeros(self.size, dtype=np.float64)
        for r, text in enumerate(texts):
            toks = terms(text)
            lengths[r] = len(toks)
            for term, tf in Counter(toks).items():
                rows.append(r)
                cols.append(vocab.setdefault(term, len(vocab)))
                vals.append(tf)
        self.vocab = vocab
        n_terms = max(1, len(vocab))
        row = np.asarray(rows, dtype=np.int64)
        col = np.asarray(cols, dtype=np.int64)
        tf = np.asarray(vals, dtype=np.float64)
        df = np.bincount(col, minlength=n_terms).astype(np.float64)
        n = max(1, self.size)
        # Lucene's idf: always positive, so small libraries (one article) still score sensibly.
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
        # A term the library has never seen is as rare as a term can be.
        self.unseen_idf = float(np.log1p((n + 0.5) / 0.5))
        avg = lengths.mean() if self.size else 1.0
        norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        weights = tf * (k1 + 1) / (tf + norm[row]) * self.idf[col]
        # Postings by term (a CSC layout in plain numpy: SciPy would cost ~0.1 s at every cold start).
        order = np.argsort(col, kind="stable")
        self.posting_rows = row[order]
        self.posting_weights = weights[order]
        self.posting_start = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=n_terms))])

    def idf_of(self, term: str) -> float:
        """The idf of a term (the largest possible when the library never saw it)."""
        col = self.vocab.get(term)
        return float(self.idf[col]) if col is not None else self.unseen_idf

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for the query (repeated query terms count again)."""
        cols = [self.vocab[t] for t in terms(query) if t in self.vocab]
        if not cols or self.size == 0:
            return np.zeros(self.size)
        out = np.zeros(self.size)
        for c, times in Counter(cols).items():
            a, b = self.posting_start[c], self.posting_start[c + 1]
            out[self.posting_rows[a:b]] += times * self.posting_weights[a:b]  # a row occurs once per term
        return out

    def __len__(self) -> int:
        return self.size


def coverage(question_terms: set[str], found: set[str], idf: Callable[[str], float]) -> float:
    """Share of the question terms' idf mass that `found` contains (0 for a question without terms)."""
    total = sum(idf(t) for t in question_terms)
    return sum(idf(t) for t in question_terms & found) / total if total else 0.0
