"""Sentence spans with exact offsets, abbreviations, word tokens and planted markers (retrieval.text)."""

from __future__ import annotations

from retrieval.text import sentence_spans, without_markers, words


def sentences(text: str) -> list[str]:
    spans = sentence_spans(text)
    return [text[a:b] for a, b in spans]


def test_spans_are_exact_offsets_without_outer_whitespace() -> None:
    text = "  First one here.   Second one!\tThird?  "
    spans = sentence_spans(text)
    assert spans == [(2, 17), (20, 31), (32, 38)]
    assert [text[a:b] for a, b in spans] == ["First one here.", "Second one!", "Third?"]


def test_a_range_is_split_with_offsets_into_the_whole_text() -> None:
    text = "Skip this. Keep this one. And this. Not this."
    start, end = text.index("Keep"), text.index(" Not")
    spans = sentence_spans(text, start, end)
    assert [text[a:b] for a, b in spans] == ["Keep this one.", "And this."]
    assert all(start <= a < b <= end for a, b in spans)


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    assert sentences("Dr. Brodie met Mr. J. Smith at St. Kilda. They talked.") == [
        "Dr. Brodie met Mr. J. Smith at St. Kilda.", "They talked."]
    assert sentences("Prices rose approx. 5 percent, e.g. bread. Rents fell.") == [
        "Prices rose approx. 5 percent, e.g. bread.", "Rents fell."]


def test_month_and_number_abbreviations_continue_only_before_a_number() -> None:
    assert sentences("It opened on Jan. 5 after No. 7 closed. Then it rained.") == [
        "It opened on Jan. 5 after No. 7 closed.", "Then it rained."]
    assert sentences("He held talks with Dong Jun. Ignore the rest.") == ["He held talks with Dong Jun.", "Ignore the rest."]


def test_line_breaks_end_sentences_and_quotes_stay_with_their_sentence() -> None:
    assert sentences("Title without a stop\nBody text here. \u201cQuoted,\u201d she said.") == [
        "Title without a stop", "Body text here.", "\u201cQuoted,\u201d she said."]
    assert sentences('He said "stop." Then left.') == ['He said "stop."', "Then left."]


def test_a_lower_case_word_after_a_stop_continues_and_punctuation_alone_is_no_sentence() -> None:
    assert sentences("Version 2.0 is out. see below.") == ["Version 2.0 is out. see below."]
    assert sentences("... !!! ---") == []
    assert sentence_spans("") == []


def test_words_are_lower_cased_word_characters() -> None:
    assert words("The U.S. Navy's 3rd-fleet, café!") == ["the", "u", "s", "navy", "s", "3rd", "fleet", "café"]
    assert words("  \n\t ") == []


def test_without_markers_renders_marker_like_brackets_and_keeps_length() -> None:
    for raw, shown in [
        ("as shown [3].", "as shown (3)."),
        ("see [1, 2] and [2-4]", "see (1, 2) and (2-4)"),
        ("[passage 3] and [Ref. 7]", "(passage 3) and (Ref. 7)"),
        ("[ 5 ]", "( 5 )"),
    ]:
        assert without_markers(raw) == shown and len(shown) == len(raw)


def test_without_markers_leaves_other_brackets_alone() -> None:
    for text in ("[citation needed]", "[a] [b2] [x3]", "array[0", "no brackets"):
        assert without_markers(text) == text
