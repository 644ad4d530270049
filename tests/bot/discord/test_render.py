"""Answer rendering within Discord's limits: crafted long answers and property-based ones (hypothesis)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.discord.render import (
    EMBED_DESCRIPTION,
    EMBED_TITLE,
    EMBED_TOTAL,
    MESSAGE_CHARS,
    MORE_IN_LIST,
    QUOTE_CHARS,
    SOURCES_PER_PART,
    markers,
    render_answer,
    render_draft,
    sentences,
    sources_pages,
    split_text,
)
from retrieval.types import CANNOT_ANSWER, Answer, Citation, SourceInfo


def citation(n: int, title: str = "A title", quote: str = "A quote.", source: str = "notes.txt") -> Citation:
    return Citation(
        n=n, doc_id=f"d{n}", source=source, title=title, chunk_id=f"c{n}", quote=quote, start=0, end=len(quote)
    )


def answer_of(text: str, citations: list[Citation]) -> Answer:
    return Answer(question="q", text=text, citations=citations, answerable=True)


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_within_limits(replies: list) -> None:
    for reply in replies:
        assert len(reply.content) <= MESSAGE_CHARS
        if reply.embed is not None:
            assert len(reply.embed.title or "") <= EMBED_TITLE
            assert len(reply.embed.description or "") <= EMBED_DESCRIPTION
            assert len(reply.embed) <= EMBED_TOTAL


def test_markers_after_a_full_stop_stay_with_their_sentence() -> None:
    text = "Russia and China patrolled together. [1] They also drilled in the Sea of Japan. [2][3] Dr. Li agreed. [4]"
    assert sentences(text) == [
        "Russia and China patrolled together. [1] ",
        "They also drilled in the Sea of Japan. [2][3] ",
        "Dr. Li agreed. [4]",
    ]


def test_a_long_answer_splits_at_sentence_boundaries_and_every_part_resolves_its_markers() -> None:
    body = "The harbour of Talvik handled many containers of frozen fish in the record year of the review"
    text = " ".join(f"{body} number {i}. [{i}]" for i in range(1, 41))
    cites = [
        citation(i, title=f"Report {i}", quote=f"{body} number {i}.", source=f"https://example.org/r{i}")
        for i in range(1, 41)
    ]
    replies = render_answer(answer_of(text, cites))

    assert len(replies) >= 3
    assert_within_limits(replies)
    for reply in replies:
        assert reply.content.endswith("]"), "parts end at a sentence boundary, marker included"
        for n in markers(reply.content):
            assert f"**[{n}]** [Report {n}](https://example.org/r{n})" in reply.embed.description
        assert set(markers(reply.embed.description)) == set(markers(reply.content)), "no sources for other parts"
    assert " ".join(r.content for r in replies) == text


def test_long_quotes_and_titles_are_shortened_to_fit_one_embed() -> None:
    cites = [citation(i, title="T" * 400, quote="word " * 900) for i in range(1, SOURCES_PER_PART + 1)]
    text = " ".join(f"Claim {i}. [{i}]" for i in range(1, SOURCES_PER_PART + 1))
    [reply] = render_answer(answer_of(text, cites))
    assert_within_limits([reply])
    assert reply.embed.description.count("…") >= SOURCES_PER_PART
    assert all(f"**[{i}]**" in reply.embed.description for i in range(1, SOURCES_PER_PART + 1))


def test_markdown_in_titles_and_quotes_is_escaped_and_mentions_are_kept_as_text() -> None:
    cite = citation(1, title="The *real* [story]", quote="Hi @everyone and <@123>, see __this__ ~~now~~ `code`.")
    [reply] = render_answer(answer_of("Something happened. [1]", [cite]))
    line = reply.embed.description
    assert "\\*real\\*" in line and "\\[story\\]" in line
    assert "\\_\\_this\\_\\_" in line and "\\~\\~now\\~\\~" in line and "\\`code\\`" in line
    assert "@everyone" in line and "<@123>" in line


def test_only_web_sources_become_links() -> None:
    web = citation(1, title="Web", source="https://example.org/a_(b)")
    local = citation(2, title="Local", source="/home/me/notes.txt")
    [reply] = render_answer(answer_of("One. [1] Two. [2]", [web, local]))
    assert "**[1]** [Web](https://example.org/a_%28b%29)" in reply.embed.description
    assert "**[2]** Local · notes.txt" in reply.embed.description


def test_the_answer_is_shown_once_and_sources_quote_only_what_the_text_does_not_say() -> None:
    quoted = "The drills were held in the Sea of Japan last month as part of a major naval exercise."
    drills = citation(1, title="Moscow and Beijing", quote=quoted, source="/data/belousov-beijing.txt")
    [extractive] = render_answer(answer_of(f"{quoted} [1]", [drills]))
    assert extractive.embed.description == "**[1]** Moscow and Beijing · belousov-beijing.txt"

    long_quote = quoted + " " + "It was described as the largest of its kind in decades, and more. " * 5
    generated = citation(1, title="Moscow and Beijing", quote=long_quote, source="/data/belousov-beijing.txt")
    [written] = render_answer(answer_of("The drills were in the Sea of Japan. [1]", [generated]))
    head, quote = written.embed.description.splitlines()
    assert head == "**[1]** Moscow and Beijing · belousov-beijing.txt"
    assert quote.startswith('> **[1]** "The drills were held') and quote.endswith('…"')
    assert len(quote) <= QUOTE_CHARS + 20, "a short quote"


def test_citations_of_one_document_share_its_line_and_uploads_show_their_file_name() -> None:
    cites = [citation(n, title="Harbour news", source="discord-attachment:harbour.md") for n in (1, 2)]
    cites = [Citation(**{**c.to_json(), "doc_id": "d"}) for c in cites]
    [reply] = render_answer(answer_of("One. [1] Two. [2]", cites))
    assert reply.embed.description.splitlines()[0] == "**[1]** **[2]** Harbour news · harbour.md"


def test_a_list_answer_that_stops_before_the_end_says_so() -> None:
    cites = [citation(n) for n in (1, 2)]
    [cut] = render_answer(Answer(question="q", text="One. [1] Two. [2]", citations=cites, answerable=True, more=True))
    assert cut.embed.footer.text == MORE_IN_LIST
    [whole] = render_answer(answer_of("One. [1] Two. [2]", cites))
    assert whole.embed.footer.text is None


def test_cannot_answer_is_plain_text_without_sources() -> None:
    [reply] = render_answer(Answer(question="q", text=CANNOT_ANSWER, citations=[], answerable=False))
    assert reply.content == CANNOT_ANSWER and reply.embed is None


def test_a_draft_is_marked_and_fits_one_message() -> None:
    draft = render_draft("word " * 1000)
    assert draft.startswith("✏️ *Draft") and len(draft) <= MESSAGE_CHARS


def test_sources_pages_stay_within_embed_limits() -> None:
    docs = [
        SourceInfo(f"d{i}", "https://example.org/" + "p" * 280, "*" * 300, None, "2026-01-02T03:04:05+00:00", 3, "h")
        for i in range(25)
    ]
    pages = sources_pages(docs)
    assert [p.footer.text for p in pages] == ["Page 1/3", "Page 2/3", "Page 3/3"]
    for page in pages:
        assert len(page.description) <= EMBED_DESCRIPTION and len(page) <= EMBED_TOTAL


# -- properties -------------------------------------------------------------------------------------

words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="[]\\"),
    min_size=1,
    max_size=40,
)
sentence = st.builds(
    lambda ws, end, ns: " ".join(ws) + end + "".join(f" [{n}]" for n in ns),
    st.lists(words, min_size=1, max_size=60),
    st.sampled_from([".", "!", "?", "", "…"]),
    st.lists(st.integers(1, 30), max_size=4),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sentence, min_size=1, max_size=40), st.text(max_size=300), st.text(max_size=3000))
def test_any_answer_renders_within_limits_and_every_marker_resolves(parts: list[str], title: str, quote: str) -> None:
    text = " ".join(parts)
    used = sorted({int(n) for n in re.findall(r"\[(\d+)\]", text)})
    if not text.strip() or not used:
        return
    cites = [citation(n, title=title, quote=quote, source="https://example.org/x") for n in used]
    replies = render_answer(answer_of(text, cites))
    assert_within_limits(replies)
    for reply in replies:
        for n in markers(reply.content):
            assert f"**[{n}]**" in reply.embed.description
    assert squeeze(unescape("".join(r.content for r in replies))) == squeeze(text), "nothing lost, added or reordered"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=6000), st.integers(50, 2000))
def test_split_text_never_exceeds_the_limit_and_keeps_all_words(text: str, limit: int) -> None:
    parts = split_text(text, limit, measure=len)
    assert all(len(p) <= limit for p in parts)
    assert squeeze("".join(parts)) == squeeze(text)
