"""Checks a model's answer sentence by sentence against the passages it cites; what fails is dropped.

A sentence is kept only when one of the passages it cites supports it:
1. every number, date and name it states appears in that passage (or its title), and
2. its meaning matches a sentence of that passage: the embedding similarity of the two is at
   least the support threshold (see docs/generative.md for how the threshold was calibrated).
The best-matching passage sentence becomes the citation's quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrieval.answer.citations import Span, span_in_hit
from retrieval.answer.scoring import list_focus
from retrieval.embedding import Embedder
from retrieval.terms import STOPWORDS, question_terms, terms
from retrieval.text import sentence_spans, words
from retrieval.types import CANNOT_ANSWER, Hit

# Calibrated on SQuAD v1.1 dev (bench/generative_eval.py --calibrate; docs/generative.md).
SUPPORT_THRESHOLD = 0.55

_MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d+(?:\s*(?:,|;|and|&)\s*\d+)*)\s*\]", re.IGNORECASE)
_LABEL = re.compile(r"^\s*(?:answer|response|final answer)\s*:\s*", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)
_MENTION = re.compile(r"@(?:everyone|here)\b|<@[!&]?\d+>", re.IGNORECASE)
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|directions)\b|\bsystem prompt\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"\b[A-Z][\w’'\-]*")
_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "hundred": "100", "thousand": "1000",
    "million": "1000000", "billion": "1000000000", "first": "1", "second": "2", "third": "3", "fourth": "4",
    "fifth": "5", "sixth": "6", "seventh": "7", "eighth": "8", "ninth": "9", "tenth": "10",
}
# Capitalised at the start of a sentence without being a name.
_NOT_NAMES = STOPWORDS | {"also", "according", "however", "yes", "although", "though", "yet", "since", "thus",
                          "therefore", "meanwhile", "moreover", "furthermore", "instead", "overall", "today"}


@dataclass(frozen=True)
class Drafted:
    """One sentence of the model's answer: its text without markers and the passage numbers it cited."""

    text: str
    markers: tuple[int, ...]


@dataclass
class Verified:
    """The sentences that passed, each with its supporting quotes, and those dropped with the reason."""

    kept: list[tuple[str, list[Span]]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    abstained: bool = False


def _numbers(inner: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", inner))


def parse(raw: str) -> list[Drafted]:
    """Split a model's answer into sentences and the markers each ends with."""
    text = _LABEL.sub("", raw.strip())
    text = _BULLET.sub("\n", text)
    text = re.sub(r"([.!?])(\[)", r"\1 \2", text)  # "Monday.[1] He" -> "Monday. [1] He"
    text = re.sub(r"(\])[ \t]+(?=[A-Z])", "\\1\n", text)  # "Beijing [1] He met" -> a new sentence
    text = re.sub(r"([.!?])\s+(?=[@<#])", "\\1\n", text)  # "... [2]. @everyone look" -> a new sentence
    out: list[Drafted] = []
    for a, b in sentence_spans(text):
        piece = text[a:b]
        lead = re.match(r"^(?:\s*" + _MARKER.pattern + r")+", piece, re.IGNORECASE)
        if lead and out:  # markers after the previous sentence's full stop belong to it
            prev = out[-1]
            extra = tuple(n for m in _MARKER.finditer(lead.group()) for n in _numbers(m.group(1)))
            out[-1] = Drafted(prev.text, prev.markers + extra)
            piece = piece[lead.end():]
        markers = tuple(n for m in _MARKER.finditer(piece) for n in _numbers(m.group(1)))
        sentence = _MARKER.sub("", piece)
        sentence = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(sentence.split())).strip()
        if any(ch.isalnum() for ch in sentence):
            out.append(Drafted(sentence, tuple(dict.fromkeys(markers))))
        elif out and markers:
            prev = out[-1]
            out[-1] = Drafted(prev.text, tuple(dict.fromkeys(prev.markers + markers)))
    return out


def is_cannot_answer(sentence: str) -> bool:
    """Whether a sentence is the fixed abstention phrase (however it is punctuated)."""
    norm = " ".join(words(sentence))
    return " ".join(words(CANNOT_ANSWER)) in norm


def facts(sentence: str) -> list[str]:
    """The numbers, dates and names a sentence states, as it writes them."""
    found = [m.group() for m in _NUMBER.finditer(sentence)]
    found += [w for w in re.findall(r"[A-Za-z]+", sentence) if w.lower() in _NUMBER_WORDS]
    for m in _CAPITALISED.finditer(sentence):
        for part in re.split(r"[-’']", m.group()):
            if part and part[0].isupper() and part.lower() not in _NOT_NAMES and not part.isdigit():
                found.append(part)
    return list(dict.fromkeys(found))


def _vocabulary(text: str) -> tuple[set[str], set[str]]:
    """The passage's lower-cased words and normalised numbers."""
    vocab = set(words(text.replace("_", " ")))
    nums = {n.replace(",", "") for n in _NUMBER.findall(text)}
    nums |= {d for w in vocab if (d := _NUMBER_WORDS.get(w))}
    return vocab, nums


def _stated(fact: str, vocab: set[str], nums: set[str]) -> bool:
    """Whether a passage with these words and numbers states the fact."""
    if fact[0].isdigit():
        return fact.replace(",", "") in nums or fact in vocab
    low = fact.lower()
    if low in _NUMBER_WORDS:
        return low in vocab or _NUMBER_WORDS[low] in nums
    if low in vocab:
        return True
    # "Russia"/"Russian", "Belousov"/"Belousov's": a shared stem of at least four letters;
    # "Defence"/"Defense": one letter apart in a long word.
    return len(low) >= 4 and any(
        (abs(len(w) - len(low)) <= 3 and (w.startswith(low) or low.startswith(w)) and min(len(w), len(low)) >= 4)
        or (len(low) >= 6 and _one_substitution(w, low))
        for w in vocab
    )


def _one_substitution(a: str, b: str) -> bool:
    """Whether two words of one length differ in exactly one letter."""
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


# Share of a claim's own words (those not in its question) a quote must hold for the claim to be read after its question.
GROUNDED_SHARE = 0.6


def _grounded(span: Span, own_terms: set[str]) -> bool:
    """Whether a passage sentence (with its title) holds most of the claim's own words; a claim with none states nothing new."""
    if not own_terms:
        return False
    found = set(terms(span.quote)) | set(terms(span.hit.title))
    return len(own_terms & found) >= GROUNDED_SHARE * len(own_terms)


def _stated_count(text: str, found: Sequence[str]) -> int:
    vocab, nums = _vocabulary(text)
    return sum(_stated(f, vocab, nums) for f in found)


def missing_facts(sentence: str, hit: Hit) -> list[str]:
    """The facts of a sentence that the passage (text or title) does not state."""
    vocab, nums = _vocabulary(f"{hit.title}\n{hit.text}")
    return [f for f in facts(sentence) if not _stated(f, vocab, nums)]


# Two kept sentences resting on the same quotes and this close in meaning say one thing twice.
REPEAT_SIMILARITY = 0.8
_CLAUSE = re.compile(r"\s*(?:[,;:]|\s[–—-]\s)\s*")
MIN_CLAUSE_WORDS = 4
MAX_CLAUSES = 3


def units(sentence: str, title: str = "") -> list[str]:
    """What a claim is compared with: the sentence (alone and after its title) and runs of up to three of its clauses.

    A model often compresses ("He met his counterpart, Admiral Dong Jun") a long sentence;
    the run of clauses it kept matches it far better than the whole sentence does.
    """
    out = [sentence] + ([f"{title}: {sentence}"] if title else [])
    clauses = [c for c in _CLAUSE.split(sentence) if c]
    if len(clauses) > 1:
        for i in range(len(clauses)):
            for j in range(i + 1, min(i + MAX_CLAUSES, len(clauses)) + 1):
                run = ", ".join(clauses[i:j])
                if (j - i) < len(clauses) and len(run.split()) >= MIN_CLAUSE_WORDS:
                    out.append(run)
    return out


class PassageSentences:
    """Each passage's sentences with the embeddings of their units, computed once per answer."""

    def __init__(self, hits: Sequence[Hit], embedder: Embedder) -> None:
        self.spans: list[list[Span]] = [[span_in_hit(h, a, b) for a, b in sentence_spans(h.text)] for h in hits]
        texts: list[str] = []
        self.owner: list[list[int]] = []  # per passage: for each unit, the index of its sentence
        self.rows: list[slice] = []
        for spans in self.spans:
            first, owner = len(texts), []
            for i, span in enumerate(spans):
                for unit in units(span.quote, span.hit.title.replace("_", " ").strip()):
                    texts.append(unit)
                    owner.append(i)
            self.owner.append(owner)
            self.rows.append(slice(first, len(texts)))
        self.vectors = embedder.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)

    def best(self, index: int, claim: np.ndarray, stated: Sequence[str] = (), own_terms: set[str] | None = None) -> tuple[Span | None, float]:
        """The passage sentence closest in meaning to the claim (whole or by a clause), and that similarity.

        `claim` is the claim's vector, or two rows: the claim alone and the claim after its question.
        The second reading only counts for a passage sentence holding most of `own_terms` (the
        claim's words that are not the question's): the question alone must never carry a claim.
        The sentences that state most of `stated` (the claim's names and numbers) come first, so
        the quote is the sentence that holds the answer, not merely one that sounds like it.
        """
        if not self.owner[index]:
            return None, 0.0
        readings = np.atleast_2d(claim)
        vectors = self.vectors[self.rows[index]]
        sims = vectors @ readings[0]
        if len(readings) > 1:
            grounded = np.array([_grounded(self.spans[index][o], own_terms or set()) for o in self.owner[index]])
            sims = np.maximum(sims, np.where(grounded, vectors @ readings[1], -np.inf))
        if stated:
            counts = np.array([_stated_count(self.spans[index][o].quote, stated) for o in self.owner[index]])
            if counts.max() > 0:
                sims = np.where(counts == counts.max(), sims, -np.inf)
        i = int(np.argmax(sims))
        return self.spans[index][self.owner[index][i]], float(sims[i])


def verify(raw: str, hits: Sequence[Hit], embedder: Embedder, threshold: float = SUPPORT_THRESHOLD, question: str = "") -> Verified:
    """Keep the sentences of a model's answer that a cited passage supports; record why the others went.

    A brief answer ("Andrey Belousov [1].") means little alone: each sentence is also compared
    after the question it answers, and the closer of the two readings counts.
    """
    result = Verified()
    drafted = parse(raw)
    claims = [d for d in drafted if not is_cannot_answer(d.text)]
    result.abstained = not claims
    if not claims:
        return result
    passages = PassageSentences(hits, embedder)
    texts = [c.text for c in claims]
    vectors = embedder.embed(texts + ([f"{question} {t}" for t in texts] if question else []))
    pairs = [vectors[i :: len(claims)] for i in range(len(claims))]
    seen: set[str] = set()
    kept_vectors: list[tuple[frozenset[tuple[str, int, int]], np.ndarray]] = []
    for claim, vector in zip(claims, pairs, strict=True):
        spans, reason = _check(claim, vector, hits, passages, threshold, question)
        key = " ".join(words(claim.text))
        quotes = frozenset(sp.key for sp in spans)
        if reason is None and (key in seen or any(q == quotes and float(v @ vector[0]) >= REPEAT_SIMILARITY for q, v in kept_vectors)):
            reason = "repeats an earlier sentence"
        if reason is None:
            seen.add(key)
            kept_vectors.append((quotes, vector[0]))
            result.kept.append((_as_sentence(claim.text), spans))
        else:
            result.dropped.append({"sentence": claim.text, "markers": list(claim.markers), "reason": reason})
    return result


def _check(claim: Drafted, vector: np.ndarray, hits: Sequence[Hit], passages: PassageSentences,
           threshold: float, question: str = "") -> tuple[list[Span], str | None]:
    """The supporting quotes of one sentence, or why it has none.

    The passages it cites are tried first. Small models often cite the wrong number or none,
    so when none of those supports it, the other passages shown are tried: the markers the
    user sees are the quotes that were checked, never the model's own numbers.
    """
    if _MENTION.search(claim.text):
        return [], "mentions users (@everyone, @here or a member), which an answer never does"
    if _INSTRUCTION.search(claim.text):
        return [], "repeats an instruction instead of stating a fact from the passages"
    if not terms(claim.text):
        return [], "states nothing"
    cited = [n for n in claim.markers if 1 <= n <= len(hits)]
    others = [n for n in range(1, len(hits) + 1) if n not in cited]
    stated = facts(claim.text)
    own_terms = set(terms(claim.text)) - set(terms(question))
    failures: dict[bool, list[tuple[int, float, str]]] = {True: [], False: []}  # cited?: (how close, similarity, reason)
    for group, is_cited in ((cited, True), (others, False)):
        supported: list[Span] = []
        for n in group:
            missing = missing_facts(claim.text, hits[n - 1])
            span, sim = passages.best(n - 1, vector, stated, own_terms)
            if span is not None and not missing and sim >= threshold:
                supported.append(Span(span.hit, span.start, span.end, round(sim, 4)))
            elif missing:
                failures[is_cited].append((0, sim, f"passage [{n}] does not state {', '.join(missing)}"))
            else:
                failures[is_cited].append(
                    (1, sim, f"its meaning matches no sentence of passage [{n}] (best similarity {sim:.2f} < {threshold:.2f})"))
        if supported:
            off = _off_question(question, claim.text, supported)
            return ([], off) if off else (supported, None)
    if failures[True]:
        return [], max(failures[True])[2]
    if claim.markers:
        bad = ", ".join(f"[{n}]" for n in claim.markers)
        return [], f"cites {bad}, which names no passage (there were {len(hits)}), and no passage supports it"
    return [], "cites no passage, and no passage supports it"


def _off_question(question: str, sentence: str, spans: Sequence[Span]) -> str | None:
    """Why a supported sentence still does not answer the question (it shares none of its terms), or None."""
    if not question:
        return None
    # The items of a list rarely repeat the name of their kind ("the patrol", asked for "exercises").
    wanted = set(question_terms(question)) - set(terms(list_focus(question) or ""))
    found = set(terms(sentence)) | {t for s in spans for t in terms(s.quote)}
    if wanted and not wanted & found:
        return "it is in the passages but does not answer the question (it shares none of its words)"
    return None


def _as_sentence(text: str) -> str:
    """A kept sentence, ending in punctuation."""
    return text if text[-1:] in ".!?\"'”’)" else text + "."
