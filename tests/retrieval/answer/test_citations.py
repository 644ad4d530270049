"""Numbering of citations (retrieval.answer.citations): markers 1..N by first use, each an exact quote of its document."""

from __future__ import annotations

from retrieval.answer.citations import Span, number, span_in_hit
from retrieval.types import Hit

DOC = "Title line\nThe ferry leaves at ten [3]. Tickets are sold on board. The morning ferry returns at seven."
OTHER = "Bees dance. The hive listens."


def hit(doc_id: str, text: str, start: int, end: int, n: int = 0) -> Hit:
    return Hit(chunk_id=f"{doc_id}#{n}", doc_id=doc_id, source=f"{doc_id}.txt", title=doc_id.title(), text=text[start:end],
               start=start, end=end, ordinal=n, score=1.0, rank=n + 1)


FERRY = hit("ferry", DOC, DOC.index("The ferry"), len(DOC))
BEES = hit("bees", OTHER, 0, len(OTHER), 1)


def sentence_span(h: Hit, doc: str, sentence: str, support: float | None = None) -> Span:
    a = doc.index(sentence) - h.start
    return span_in_hit(h, a, a + len(sentence), support)


def test_a_span_in_a_hit_has_document_offsets_and_quotes_the_document() -> None:
    span = sentence_span(FERRY, DOC, "Tickets are sold on board.")
    assert (span.start, span.end) == (DOC.index("Tickets"), DOC.index("Tickets") + len("Tickets are sold on board."))
    assert span.quote == DOC[span.start : span.end] == "Tickets are sold on board."
    assert span.key == ("ferry", span.start, span.end) and span.support is None


def test_markers_are_numbered_by_first_use_and_a_repeated_quote_keeps_its_number() -> None:
    tickets = sentence_span(FERRY, DOC, "Tickets are sold on board.")
    morning = sentence_span(FERRY, DOC, "The morning ferry returns at seven.")
    bees = sentence_span(BEES, OTHER, "Bees dance.")
    text, citations = number([
        ("Tickets are sold aboard.", [tickets]),
        ("Bees dance, and the ferry returns at seven.", [bees, morning]),
        ("Again, tickets are sold aboard.", [tickets, tickets]),
    ])
    assert text == "Tickets are sold aboard. [1] Bees dance, and the ferry returns at seven. [2][3] Again, tickets are sold aboard. [1]"
    assert [c.n for c in citations] == [1, 2, 3]
    assert [(c.doc_id, c.quote) for c in citations] == [
        ("ferry", "Tickets are sold on board."), ("bees", "Bees dance."), ("ferry", "The morning ferry returns at seven.")]


def test_each_citation_carries_its_hit_offsets_and_support() -> None:
    span = sentence_span(FERRY, DOC, "The morning ferry returns at seven.", support=0.8123)
    _, (c,) = number([("It returns at seven.", [span])])
    assert (c.doc_id, c.source, c.title, c.chunk_id) == ("ferry", "ferry.txt", "Ferry", "ferry#0")
    assert DOC[c.start : c.end] == c.quote and c.support == 0.8123
    assert c.to_json()["support"] == 0.8123 and c.to_json()["quote"] == c.quote


def test_a_sentence_without_quotes_gets_no_marker_and_trailing_space_is_dropped() -> None:
    span = sentence_span(BEES, OTHER, "The hive listens.")
    text, citations = number([("A note.  ", []), ("The hive listens.\n", [span])])
    assert text == "A note. The hive listens. [1]" and len(citations) == 1
    assert number([]) == ("", [])


def test_a_marker_written_in_the_source_is_shown_as_text_while_the_quote_stays_exact() -> None:
    planted = sentence_span(FERRY, DOC, "The ferry leaves at ten [3].")
    text, (c,) = number([("The ferry leaves at ten [3].", [planted])])
    assert text == "The ferry leaves at ten (3). [1]"
    assert c.quote == "The ferry leaves at ten [3]." == DOC[c.start : c.end]


def test_two_quotes_of_the_same_text_in_different_places_are_two_citations() -> None:
    doc = "Bees dance. Later: Bees dance."
    h = hit("twice", doc, 0, len(doc))
    first, second = span_in_hit(h, 0, 11), span_in_hit(h, 19, 30)
    assert first.quote == second.quote == "Bees dance." and first.key != second.key
    text, citations = number([("Bees dance.", [first, second])])
    assert text == "Bees dance. [1][2]" and [(c.start, c.end) for c in citations] == [(0, 11), (19, 30)]
