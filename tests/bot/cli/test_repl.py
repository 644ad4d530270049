"""The REPL as a person uses it, with questions piped in: real model, real Chroma, the bundled sample article."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from retrieval.errors import RagbotError
from retrieval.library import Library
from tests.support.paths import ROOT


def repl(*lines: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "repl"], input="".join(line + "\n" for line in lines), check=False, capture_output=True,
        text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80", "RAGBOT_GENERATOR": "extractive"},
        timeout=300,
    )


def test_quit_and_exit_without_a_colon_leave_the_repl() -> None:
    for word in ("quit", "exit", "Quit"):
        done = repl(word, "What is the capital of Peru?")
        assert done.returncode == 0, done.stderr
        assert "could not find" not in done.stdout  # left before the next line was read


def test_why_after_a_refusal_explains_it() -> None:
    done = repl("What is the capital of Peru?", ":why")
    out = " ".join(done.stdout.split())
    assert "I could not find this in the articles." in out
    assert "below the 1.17 needed to answer" in out and "The closest passage:" in out
    assert "Nothing was left out" not in out


def test_piped_questions_are_echoed_and_answers_cite_each_sentence_once() -> None:
    done = repl("Who is Russia's defense minister?")
    assert "ragbot> Who is Russia's defense minister?\n" in done.stdout
    assert done.stdout.count("Andrey Belousov has said") == 1
    assert "  [1] retrieval/data/belousov-beijing.txt:" in done.stdout


def test_a_store_that_fails_while_an_answer_is_shown_is_one_sentence_and_the_repl_goes_on(
    sample_library: Library, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.repl import run

    away = "The Chroma server at http://127.0.0.1:9 (RAGBOT_CHROMA_URL) did not answer for 1 s; check that it is running."

    def server_away(*_args: object, **_kwargs: object) -> str:
        raise RagbotError(away)

    monkeypatch.setattr(sample_library, "document_text", server_away)  # the server stops as the answer is shown
    monkeypatch.setattr("sys.stdin", io.StringIO("Who is Russia's defense minister?\n:k 3\n"))
    assert run(sample_library) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.count("check that it is running.") == 1
    assert "Retrieving 3 passages per question." in out  # the next line was still read
