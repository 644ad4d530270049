"""The searcher on a real on-disk library (bundled model, real Chroma, the keyword index): fused scores, filters, k.

The engine's refusal of k out of range is what the Discord bot and any other caller get; the command
line's side is tests/bot/cli/test_k.py.
"""

from __future__ import annotations

import math

import pytest

from retrieval.errors import RagbotError
from retrieval.library import Library
from retrieval.search.searcher import DENSE_FLOOR, Filters, Searcher, dense_weight
from retrieval.settings import check_k
from retrieval.types import Document

RANGE = "must be a whole number from 1 to 50"
DOCS = [
    Document("ferry", "https://harbour.example/ferry", "Ferry timetable",
             "The night ferry to Skerra leaves the north pier at ten. Tickets are sold on board.", "2021-06-01"),
    Document("canal", "https://harbour.example/canal", "Canal festival",
             "The canal festival drew five thousand visitors to the old harbour on Sunday.", "2024-03-05"),
    Document("lamp", "notes/lamps.txt", "Lamp keepers",
             "The lamp keeper Orlaith Vantreece trimmed the wicks of the Skerra light every evening."),
    Document("bees", "notes/bees.txt", "Bees",
             "Honey bees dance to tell the hive where the flowers are.", "2023-01-15"),
]


@pytest.fixture
def corpus(library: Library) -> Library:
    report = library.ingest_documents(DOCS)
    assert sorted(report.added) == sorted(d.doc_id for d in DOCS)
    return library


def searcher(lib: Library) -> Searcher:
    return lib._searcher(None)


def test_fused_scores_are_finite_in_unit_range_ordered_and_ranked(corpus: Library) -> None:
    hits = searcher(corpus).search("When does the night ferry leave?", 10)
    assert len(hits) == len(DOCS)  # one chunk per (short) document, k larger than the library
    scores = [h.score for h in hits]
    assert all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in scores), scores
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0].doc_id == "ferry"
    assert all(h.dense is not None and -1.0 <= h.dense <= 1.0 and h.keyword is not None and h.keyword >= 0.0 for h in hits)


def test_hits_quote_their_document_exactly(corpus: Library) -> None:
    for hit in searcher(corpus).search("Skerra", 4):
        text = corpus.document_text(hit.doc_id)
        assert text is not None and text[hit.start : hit.end] == hit.text


def test_a_rare_name_is_found_by_its_keyword_score(corpus: Library) -> None:
    hits = searcher(corpus).search("Vantreece", 4)
    assert hits[0].doc_id == "lamp" and hits[0].score == 1.0
    by_doc = {h.doc_id: h for h in hits}
    assert by_doc["lamp"].keyword is not None and by_doc["lamp"].keyword > 0
    assert all(h.keyword == 0.0 for h in hits if h.doc_id != "lamp")


def test_the_same_query_gives_the_same_ranking(corpus: Library) -> None:
    first = searcher(corpus).search("harbour visitors", 4)
    again = searcher(corpus).search("harbour visitors", 4)
    assert [(h.chunk_id, h.score) for h in first] == [(h.chunk_id, h.score) for h in again]


def test_filters_allow_by_source_substring_and_publication_date() -> None:
    assert not Filters() and Filters(source="x") and Filters(since="2024-01-01")
    by_source = Filters(source="HARBOUR.example")
    assert by_source.allows({"source": "https://harbour.example/ferry"}) and not by_source.allows({"source": "notes/bees.txt"})
    since = Filters(since="March 1, 2024")
    assert since.since == "2024-03-01"  # normalised to ISO
    assert since.allows({"published": "2024-03-05"}) and since.allows({"published": "2024-03-01T08:00:00"})
    assert not since.allows({"published": "2024-02-29"}) and not since.allows({"published": ""}) and not since.allows({})
    for bad in ("", "   ", "soon"):
        with pytest.raises(RagbotError, match="--since needs a date"):
            Filters(since=bad)


def test_search_keeps_only_what_the_filters_allow(corpus: Library) -> None:
    s = searcher(corpus)
    assert {h.doc_id for h in s.search("Skerra harbour", 10, Filters(source="harbour.example"))} == {"ferry", "canal"}
    assert {h.doc_id for h in s.search("Skerra harbour", 10, Filters(since="2023-01-01"))} == {"canal", "bees"}
    both = s.search("Skerra harbour", 10, Filters(source="harbour.example", since="2023-01-01"))
    assert [h.doc_id for h in both] == ["canal"] and both[0].published == "2024-03-05"
    assert s.search("Skerra harbour", 10, Filters(source="nowhere.example")) == []


def test_k_bounds_how_many_hits_come_back(corpus: Library) -> None:
    s = searcher(corpus)
    assert [len(s.search("Skerra", k)) for k in (1, 2, 3)] == [1, 2, 3]
    hits = s.search("Skerra", 50)
    assert len(hits) == len(DOCS) and len({h.chunk_id for h in hits}) == len(hits)  # no chunk twice


def test_engine_refuses_k_out_of_range(sample_library: Library) -> None:
    """What the Discord bot and any other caller of the engine get."""
    for k in (0, -1, 51):
        with pytest.raises(RagbotError, match=RANGE):
            sample_library.ask("what exercises were mentioned?", k=k)
        with pytest.raises(RagbotError, match=RANGE):
            sample_library.search("exercises", k=k)
    assert len(sample_library.search("exercises", k=1)) == 1
    assert check_k("12") == 12


def test_a_forgotten_document_is_no_longer_found(corpus: Library) -> None:
    assert "lamp" in {h.doc_id for h in searcher(corpus).search("Vantreece", 4)}
    corpus.forget("lamp")
    assert "lamp" not in {h.doc_id for h in searcher(corpus).search("Vantreece", 4)}


def test_an_empty_collection_gives_no_hits(library: Library) -> None:
    assert searcher(library).search("anything at all", 5) == []


def test_dense_weight_falls_from_one_to_the_floor_with_keyword_coverage() -> None:
    assert dense_weight(0.0) == 1.0 and dense_weight(1.0) == pytest.approx(DENSE_FLOOR)
    assert dense_weight(-0.5) == 1.0 and dense_weight(2.0) == pytest.approx(DENSE_FLOOR)  # clamped
    weights = [dense_weight(c / 10) for c in range(11)]
    assert weights == sorted(weights, reverse=True) and len(set(weights)) == 11
