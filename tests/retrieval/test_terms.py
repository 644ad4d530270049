"""Keyword analysis (retrieval.terms): stems, stopwords, the terms a question's answer should hold, idf coverage."""

from __future__ import annotations

import pytest

from retrieval.terms import QUESTION_WORDS, STOPWORDS, coverage, question_terms, stem, terms


def test_plurals_and_inflections_meet_at_one_stem() -> None:
    assert stem("exercises") == stem("exercise") == "exercis"
    assert stem("patrolled") == stem("patrol") == stem("patrols")
    assert stem("running") == "run" and stem("ran") == "ran"  # a stemmer, not a lemmatiser


def test_terms_are_lower_cased_stemmed_words_without_stopwords() -> None:
    assert terms("The Ferries WERE sailing to the islands.") == ["ferri", "sail", "island"]
    assert terms("the and of to with") == []
    assert terms("") == []


def test_terms_keep_order_repeats_digits_and_non_ascii_words() -> None:
    assert terms("Drills, drills and more drills in 2024") == ["drill", "drill", "drill", "2024"]
    assert terms("Café crème at Zürich") == ["café", "crème", "zürich"]
    assert terms("x_y snake_case") == ["x_i", "snake_cas"]  # one token each (\w holds the underscore), then stemmed


def test_stopwords_are_lower_case_function_words() -> None:
    assert {"the", "what", "who", "which"} <= STOPWORDS
    assert not {"ferry", "minister", "beijing"} & STOPWORDS
    assert all(w == w.lower() for w in STOPWORDS)


def test_question_terms_drop_words_that_only_say_what_is_asked() -> None:
    assert question_terms("What exercises were mentioned in the article?") == ["exercis"]
    assert question_terms("Describe what the report said about the naval patrol") == ["naval", "patrol"]
    assert terms("What exercises were mentioned?") == ["exercis", "mention"]  # the index keeps "mention"
    assert {"mentioned", "article", "said"} <= QUESTION_WORDS


def test_coverage_is_the_found_share_of_the_idf_mass() -> None:
    idf = {"ferri": 3.0, "harbour": 1.0, "night": 2.0}.__getitem__
    wanted = {"ferri", "harbour", "night"}
    assert coverage(wanted, {"ferri", "harbour", "night", "extra"}, idf) == 1.0
    assert coverage(wanted, {"ferri"}, idf) == pytest.approx(0.5)
    assert coverage(wanted, {"harbour"}, idf) == pytest.approx(1 / 6)
    assert coverage(wanted, set(), idf) == 0.0


def test_coverage_of_a_question_without_terms_is_zero() -> None:
    assert coverage(set(), {"ferri"}, lambda t: 1.0) == 0.0
    assert coverage({"rare"}, {"rare"}, lambda t: 0.0) == 0.0  # no idf mass at all: nothing to divide
