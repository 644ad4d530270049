"""Marker-like text written inside a source ("[3]") never reads as one of ragbot's `[n]` markers.

Checked where answer text is built (extractive and generative), in what a model is shown, in
what the verifier counts, and in the JSON, terminal and Discord renderings; the citations'
quotes stay the stored text exactly.
"""

from __future__ import annotations

import io
import re
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from rich.console import Console

from retrieval.answer import prompts
from retrieval.answer.context import AnswerContext
from retrieval.answer.generative import generate
from retrieval.answer.passages import Passage
from retrieval.answer.verify import parse
from retrieval.library import Library
from retrieval.text import without_markers
from retrieval.types import Answer, Document, Hit

PLANTED = (
    "Canal festival report\n\n"
    "The canal festival drew 5,000 visitors to the old harbour on Sunday [3]. "
    "Organisers counted 140 boats [1, 2] and 60 stalls [passage 4] along the quay [ 7 ].\n"
    "The harbour master said the water level was normal [12].\n"
)
QUESTION = "How many visitors did the canal festival draw to the old harbour?"
_ANY_MARKER = re.compile(r"\[\s*(\d+)\s*\]")


def resolves(text: str, answer: Answer) -> None:
    """Every `[n]` in the text is one of the answer's citations, numbered 1..N in order of first use."""
    found = [int(n) for n in _ANY_MARKER.findall(text)]
    assert found, text
    assert set(found) <= {c.n for c in answer.citations}, (found, text)
    assert list(dict.fromkeys(found)) == list(range(1, len(answer.citations) + 1)), text


def planted_library(library: Library) -> Library:
    library.ingest_documents([Document(doc_id="festival", source="festival.txt", title="Canal festival [2]", text=PLANTED)])
    return library


def test_without_markers_renders_every_marker_like_form_and_keeps_length() -> None:
    for raw, shown in (("Sunday [3].", "Sunday (3)."), ("[1, 2]", "(1, 2)"), ("[passage 4]", "(passage 4)"), ("[ 7 ]", "( 7 )"),
                       ("[2-4]", "(2-4)"), ("[[5]]", "[(5)]"), ("[a] [12a] [x3]", "[a] [12a] [x3]")):
        assert without_markers(raw) == shown and len(shown) == len(raw)


def test_extractive_answer_quotes_a_planted_marker_without_showing_it(library: Library) -> None:
    lib = planted_library(library)
    answer = lib.ask(QUESTION, generator="extractive")
    assert answer.answerable and "5,000 visitors" in answer.text
    resolves(answer.text, answer)
    assert "(3)" in answer.text  # the source's own "[3]", shown distinctly
    text = lib.document_text("festival") or ""
    for c in answer.citations:
        assert text[c.start : c.end] == c.quote  # the quote is the stored text, "[3]" and all
    assert any("[3]" in c.quote for c in answer.citations)
    resolves(answer.to_json()["answer"], answer)  # JSON (`ask --json`)


def test_terminal_and_discord_show_only_ragbot_markers(library: Library) -> None:
    from bot.cli.console import render_answer as terminal
    from bot.discord.render import markers
    from bot.discord.render import render_answer as discord_replies

    lib = planted_library(library)
    answer = lib.ask(QUESTION, generator="extractive")
    out = io.StringIO()
    terminal(Console(file=out, width=200, highlight=False, color_system=None), answer)
    resolves(out.getvalue(), answer)
    replies = discord_replies(answer)
    for reply in replies:
        assert set(markers(reply.content.replace("\\", ""))) <= {c.n for c in answer.citations}
        embed = reply.embed.to_dict() if reply.embed else {}
        assert set(map(int, _ANY_MARKER.findall(str(embed).replace("\\\\", "")))) <= {c.n for c in answer.citations}


class _CopyFirstPassage(BaseChatModel):
    """A chat model that answers by copying passage [1] as it was shown, citing it: what a small model does."""

    @property
    def _llm_type(self) -> str:
        return "copy-first-passage"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        prompt = str(messages[-1].content)
        line = next(x for x in prompt.splitlines() if x.startswith("[1] "))
        body = line.split(": ", 1)[1]
        first = body.split(". ")[0].rstrip(".")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=f"{first}. [1]"))])


def _hit(text: str, n: int) -> Hit:
    return Hit(chunk_id=f"festival#{n}", doc_id="festival", source="festival.txt", title="Canal festival [2]", text=text,
               start=0, end=len(text), ordinal=n, score=1.0, rank=n + 1)


def test_a_model_never_sees_a_planted_marker_and_the_verifier_never_counts_one() -> None:
    hits = [_hit(PLANTED.split("\n\n", 1)[1], 0), _hit("Boats lined the quay.", 1), _hit("Stalls sold food.", 2)]
    hits = [Passage(h, ((0, len(h.text)),)) for h in hits]  # shown whole
    user = str(prompts.messages(QUESTION, hits)[-1].content)
    passages = user.split("<passages>\n", 1)[1].split("\n</passages>", 1)[0].splitlines()
    for n, line in enumerate(passages, 1):
        assert [int(x) for x in _ANY_MARKER.findall(line)] == [n], line  # only the passage's own number
    copied = _CopyFirstPassage().invoke(prompts.messages(QUESTION, hits)).content
    assert [d.markers for d in parse(str(copied))] == [(1,)]  # the copied "(3)" is not a citation of passage 3


def test_a_generated_answer_copying_a_passage_shows_only_ragbot_markers(library: Library) -> None:
    lib = planted_library(library)
    searcher = lib._searcher(None)
    vector = lib.embedder.embed([QUESTION])[0]
    hits = searcher.search(QUESTION, 5, vector=vector)
    ctx = AnswerContext(QUESTION, hits, lib.embedder, searcher.idf(), QUESTION, vector, searcher.sentence_vectors)
    answer = generate(ctx, lib.settings, generator="openai", model=_CopyFirstPassage())
    assert answer.generator == "openai" and answer.answerable, answer.dropped
    resolves(answer.text, answer)
    text = lib.document_text("festival") or ""
    assert all(text[c.start : c.end] == c.quote for c in answer.citations)
