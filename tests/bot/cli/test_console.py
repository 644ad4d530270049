"""What the terminal shows: answers, citations, :why, hits and sources, at a fixed width."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from bot.cli.console import location, render_answer, render_hits, render_sources, render_why, short_title
from retrieval import ANSWER_THRESHOLD, CANNOT_ANSWER, MODEL_LEANED_NO
from retrieval.ingest.loaders import SAMPLE_ARTICLE, SAMPLE_DOC_ID
from retrieval.library import Library
from retrieval.types import Answer, Citation, SourceInfo
from tests.support.paths import ROOT

LONG_TITLE = "Moscow and Beijing hold similar views on global affairs, Russian Defense Minister Andrey Belousov has said"


def terminal(width: int = 80) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None, highlight=False), out


def lines(out: io.StringIO) -> list[str]:
    return [line.rstrip() for line in out.getvalue().splitlines()]


def test_each_cited_sentence_is_printed_once_with_a_short_title_and_an_openable_line(
    sample_library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # where `make run` stands
    answer = sample_library.ask("what exercises were mentioned?")
    assert answer.answerable and len(answer.citations) >= 2
    console, out = terminal()
    render_answer(console, answer, lambda d: sample_library.document_text(d))
    text = " ".join(out.getvalue().split())
    for c in answer.citations:
        assert text.count(" ".join(c.quote.split())) == 1  # once, in the answer; not again as a quote
    assert text.count(short_title(LONG_TITLE)) == 1 and LONG_TITLE not in text  # one short title per document
    article = SAMPLE_ARTICLE.read_text()
    shown = lines(out)
    for c in answer.citations:
        line = article.count("\n", 0, c.start) + 1
        assert f"  [{c.n}] retrieval/data/belousov-beijing.txt:{line}" in shown


def test_generated_sentences_keep_their_quote_and_wrapped_lines_their_indent() -> None:
    quote = "The lighthouse on Skerry Island, which had been kept by three families in turn, was automated in 1987."
    citation = Citation(n=1, doc_id="d", source="https://example.org/skerry", title="Skerry", chunk_id="c",
                        quote=quote, start=0, end=len(quote))
    answer = Answer(question="q", text="It was automated in 1987. [1]", citations=[citation], answerable=True)
    console, out = terminal(60)
    render_answer(console, answer)
    shown = lines(out)
    assert shown[1] == "Skerry"
    assert shown[2].startswith("  [1] https://example.org/skerry, characters 0–")  # a URL as is
    quoted = shown[3:]
    assert len(quoted) >= 2 and all(line.startswith(" " * 6) for line in quoted)  # wrapped under its column
    assert " ".join(" ".join(quoted).split()).strip("“”") == quote


def test_locations_are_relative_to_the_current_folder_or_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert location(str(tmp_path / "work" / "notes" / "a.md")) == os.path.join("notes", "a.md")
    home = Path.home()
    assert location(str(home / "articles" / "b.txt")) == "~/articles/b.txt"
    assert location(str(tmp_path / "work" / "corpus.jsonl") + "#doc-7") == "corpus.jsonl#doc-7"
    assert location("/elsewhere/c.txt") == "/elsewhere/c.txt"
    assert location("https://example.org/a?b=1") == "https://example.org/a?b=1"
    assert short_title(LONG_TITLE) == "Moscow and Beijing hold similar views on…"


def test_why_after_a_refusal_names_the_closest_passage_and_the_threshold(
    sample_library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    answer = sample_library.ask("What is the capital of Peru?")
    assert not answer.answerable and answer.confidence is not None
    console, out = terminal()
    render_why(console, answer)
    text = " ".join(out.getvalue().split())
    assert f"scored {answer.confidence:.2f}, below the {ANSWER_THRESHOLD:.2f} needed to answer" in text
    assert "The closest passage:" in text and "— retrieval/data/belousov-beijing.txt" in text
    assert " ".join(answer.hits[0].text.split())[:60] in text
    assert "Nothing was left out" not in text


def test_why_after_the_model_leaned_towards_refusing_says_so_not_the_score(
    sample_library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An abstention at the refusal threshold (what `generate` returns; the real model's path is in
    tests/retrieval/answer/test_generative.py): the evidence scored enough, the model leaned towards no answer."""
    monkeypatch.chdir(ROOT)
    hits = sample_library.search("When did Belousov arrive in Beijing?", k=5)
    answer = Answer(question="When did Belousov arrive in Beijing?", text=CANNOT_ANSWER, citations=[], answerable=False,
                    generator="llamacpp", hits=hits, confidence=1.9, refusal=0.31,
                    dropped=[{"sentence": "(nothing)", "markers": [], "reason": f"{MODEL_LEANED_NO} (p = 0.31 of starting the cannot-answer reply)"}])
    console, out = terminal()
    render_why(console, answer, gate=0.6)
    text = " ".join(out.getvalue().split())
    assert "leaned towards saying they do not answer the question (a probability of 0.31" in text
    assert "RAGBOT_LLM_REFUSE_AT" in text and "below the" not in text
    assert "The closest passage:" in text


def test_search_hits_show_ranks_and_a_labelled_similarity(sample_library: Library) -> None:
    hits = sample_library.search("joint naval drills", k=2)
    console, out = terminal()
    render_hits(console, hits)
    shown = lines(out)
    assert shown[0].startswith("1. ") and any(line.startswith("2. ") for line in shown)
    assert f"(similarity {hits[0].dense:.2f})" in out.getvalue()


def test_sources_at_80_columns_keep_ids_whole_and_columns_visible() -> None:
    long_id = "/home/someone/articles/" + "a-very-long-folder-name/" * 3 + "library-note-about-lighthouse-keepers.md"
    sources = [
        SourceInfo(doc_id=long_id, source=long_id, title=LONG_TITLE, published=None, added_at="2026-12-02T18:40:00", chunks=1, content_hash="x"),
        SourceInfo(doc_id=SAMPLE_DOC_ID, source="s", title="Short", published=None, added_at="2026-12-02T18:41:00", chunks=12, content_hash="y"),
    ]
    console, out = terminal(80)
    render_sources(console, sources, "/data/ragbot")
    shown = lines(out)
    assert shown[0] == "2 documents in /data/ragbot:"
    assert long_id in out.getvalue().replace("\n", "")  # whole: never cut with an ellipsis
    assert any(line.endswith("1 chunk  added 2026-12-02 18:40") for line in shown)
    assert any(line.endswith("12 chunks  added 2026-12-02 18:41") for line in shown)
    assert all(len(line) <= 80 for line in shown if long_id not in line)
