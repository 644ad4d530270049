"""Hostile input through the engine: questions with controls, documents that try to instruct, secrets in settings.

The same input through real `ragbot` processes is tests/integration/test_hostile_cli.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from retrieval.errors import RagbotError
from retrieval.library import Library
from retrieval.settings import Settings
from tests.support.hostile import write_hostile_folder
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of bad files next to good ones."""
    return write_hostile_folder(tmp_path_factory.mktemp("hostile"))


def test_engine_questions(library: Library) -> None:
    for bad in ("", " \n\t ", "\x00\x01\x1b", "z" * 20_000):
        with pytest.raises(RagbotError):
            library.check_question(bad)
    assert library.check_question("who\x00 won\u200b the\x1b[0m race?\n") == "who won the race?"


def test_instructions_mentions_and_markdown_in_a_document_are_only_quoted(hostile_folder: Path, library: Library) -> None:
    report = library.ingest([hostile_folder / "instructions.txt", hostile_folder / "page.html"])
    assert len(report.added) == 2 and not report.problems
    answer = library.ask("When does construction of the tram line start?")
    assert answer.answerable
    for c in answer.citations:  # the answer is made of exact quotes: nothing is obeyed or rewritten
        assert (library.document_text(c.doc_id) or "")[c.start : c.end] == c.quote
    assert "DISCORD_TOKEN" not in os.environ  # (the autouse fixture scrubs it; the document cannot reach it anyway)
    stored = library.document_text(str((hostile_folder / "instructions.txt").resolve())) or ""
    assert "@everyone <@&123456> with **bold** ||spoilers||" in stored  # nothing lost: front-ends escape it when showing
    html_text = library.document_text(str((hostile_folder / "page.html").resolve())) or ""
    assert "nine-day strike" in html_text
    assert "SCRIPT-LEAK" not in html_text and "color:red" not in html_text and "fetch(" not in html_text


def test_settings_and_errors_do_not_show_secrets() -> None:
    settings = Settings(_env_file=None, chroma_token="chroma-SECRET-token-9876543210", openai_api_key="sk-openai-SECRET-key-0123456789")  # type: ignore[arg-type]
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "SECRET" not in shown


def test_env_file_is_git_ignored() -> None:
    done = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert done.returncode == 0
