"""One range for the number of passages (k, 1-50): RAGBOT_K, `--k` and the REPL's `:k` (the engine's side:
tests/retrieval/search/test_searcher.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.ingest.loaders import SAMPLE_ARTICLE
from tests.support.cli import one_sentence, run

RANGE = "must be a whole number from 1 to 50"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("k") / "data"
    assert run(["ingest", str(SAMPLE_ARTICLE)], folder).returncode == 0
    return folder


@pytest.mark.parametrize("k", ["0", "-1", "51"])
@pytest.mark.parametrize("command", ["ask", "search"])
def test_cli_refuses_k_out_of_range(command: str, k: str, data: Path) -> None:
    single = run([command, "what exercises were mentioned?", "--k", k, "--json"], data)
    assert single.returncode == 1 and single.stdout == ""
    assert f"{RANGE}, not '{k}'" in one_sentence(single.stderr)
    batch = run([command, "--json", "--k", k], data, stdin="what exercises were mentioned?\nand who met?\n")
    assert batch.returncode == 1 and batch.stdout == "" and RANGE in one_sentence(batch.stderr)


def test_cli_accepts_the_ends_of_the_range(data: Path) -> None:
    for k in ("1", "50"):
        done = run(["search", "exercises", "--k", k, "--json"], data)
        assert done.returncode == 0, done.stderr


def test_repl_and_setting_use_the_same_range(data: Path) -> None:
    done = run(["repl"], data, stdin=":k 0\n:k 51\n:k three\n:k 7\n:quit\n")
    assert done.returncode == 0, done.stderr
    assert f"{RANGE}, not '0'" in done.stdout and f"{RANGE}, not '51'" in done.stdout and f"{RANGE}, not 'three'" in done.stdout
    assert "Retrieving 7 passages per question." in done.stdout
    setting = run(["ask", "what exercises were mentioned?"], data, RAGBOT_K="0")
    assert setting.returncode == 1 and "RAGBOT_K is invalid" in one_sentence(setting.stderr)
