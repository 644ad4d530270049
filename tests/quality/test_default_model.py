"""The default settings answer with the packaged model (Qwen2.5-Coder-1.5B): `ragbot ask --json` over the sample
article, run for real in a child process. It takes minutes on two cores: marked slow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.ingest.loaders import SAMPLE_ARTICLE
from retrieval.types import CANNOT_ANSWER
from tests.support.llm import default_model
from tests.support.paths import MODELS_DIR

# Asked of the sample article: what each answer's text and quotes must hold; None = nothing to find.
QUESTIONS: list[tuple[str, list[str] | None]] = [
    ("Who is Russia's defence minister?", ["Belousov"]),
    ("What exercises were mentioned?", ["patrol", "drills"]),
    ("Who took the photo of the welcome ceremony?", ["Savitskii"]),
    ("How many ships took part in the naval exercise?", None),  # a near miss: the passage is on topic, the number is not there
    ("What is the capital of Peru?", None),  # off-topic
]


def _check(answer: dict, expected: list[str] | None, text: str) -> None:
    """One `ask --json` answer against what the question expects; every quote is exact."""
    for c in answer["citations"]:
        assert text[c["start"] : c["end"]] == c["quote"]
    if expected is None:
        assert answer["answer"] == CANNOT_ANSWER and not answer["answerable"] and not answer["citations"], answer
        return
    assert answer["generator"] == "llamacpp" and answer["answerable"], answer
    quotes = " ".join(c["quote"] for c in answer["citations"])
    for fact in expected:
        assert fact in answer["answer"] and fact in quotes, (fact, answer)


@pytest.mark.slow
def test_cli_ask_json_answers_with_the_default_model(tmp_path: Path) -> None:
    default_model()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")}  # the defaults, as a user has them
    env.update(RAGBOT_DATA_DIR=str(tmp_path / "data"), RAGBOT_MODEL_CACHE_DIR=str(MODELS_DIR))
    subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(SAMPLE_ARTICLE)], check=True, env=env, capture_output=True, timeout=600)
    run = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--json"], input="\n".join(q for q, _ in QUESTIONS) + "\n",
                         env=env, check=False, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert [a["question"] for a in answers] == [q for q, _ in QUESTIONS]
    text = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    for answer, (_, expected) in zip(answers, QUESTIONS, strict=True):
        _check(answer, expected, text)
