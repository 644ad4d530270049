"""What the language model reads: the chosen sentences, their neighbours only for a list question, exact spans."""

from __future__ import annotations

from retrieval.answer import passages
from retrieval.answer.citations import span_in_hit
from retrieval.answer.scoring import Scored
from retrieval.text import sentence_spans
from retrieval.types import Hit

TEXT = (
    "The ferry leaves at nine. It stops at two islands. The crossing takes an hour. "
    "Tickets cost ten euros. Bikes travel free. The cafe on board sells soup."
)


def _hit() -> Hit:
    # The chunk sits 100 characters into its document: excerpts are offsets into the chunk's own text.
    return Hit(chunk_id="ferry#0", doc_id="ferry", source="ferry.txt", title="Island ferry", text=TEXT,
               start=100, end=100 + len(TEXT), ordinal=0, score=1.0, rank=1)


def _scored(hit: Hit, order: list[int]) -> list[Scored]:
    """The hit's sentences, best first in `order` (indices into its sentences)."""
    spans = sentence_spans(hit.text)
    return [Scored(span_in_hit(hit, *spans[i]), similarity=1.0 - rank / 10, coverage=0.0) for rank, i in enumerate(order)]


def test_a_question_is_shown_its_best_sentences_alone_and_a_list_question_their_neighbours_too() -> None:
    hit = _hit()
    sentences = [hit.text[a:b] for a, b in sentence_spans(hit.text)]
    scored = _scored(hit, [4, 0])  # "Bikes travel free." then "The ferry leaves at nine."

    (shown,) = passages.passages([hit], scored)
    assert [hit.text[a:b] for a, b in shown.excerpts] == [sentences[0], sentences[4]]  # document order, nothing around them
    assert shown.text == f"{sentences[0]} … {sentences[4]}"

    (listed,) = passages.passages([hit], scored, listing=True)
    runs = [hit.text[a:b] for a, b in listed.excerpts]
    assert runs == [" ".join(sentences[0:2]), " ".join(sentences[3:6])]  # one sentence on each side of each

