"""Hostile input through the command line, end to end: real `ragbot` processes on a real library.

Every case gets one clear sentence (stderr, non-zero exit when the whole command failed),
good input next to bad input still lands, and secrets never show up in any output. The
engine's side of the same input is tests/retrieval/test_hostile.py (and tests/retrieval/ingest/).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from retrieval.ingest.loaders import SAMPLE_ARTICLE
from tests.support.cli import one_sentence, run
from tests.support.drip import DripServer
from tests.support.helpers import free_port
from tests.support.hostile import write_hostile_folder, write_repeated_id_corpus

GOOD = "Harbour news\n\nThe canal festival drew 5,000 visitors to the old harbour on Sunday.\n"
SECRETS = {
    "DISCORD_TOKEN": "MTIzNDU2Nzg5.discord-SECRET-token.abcdef",
    "RAGBOT_OPENAI_API_KEY": "sk-openai-SECRET-key-0123456789",
    "RAGBOT_CHROMA_TOKEN": "chroma-SECRET-token-9876543210",
}
@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of bad files next to good ones."""
    return write_hostile_folder(tmp_path_factory.mktemp("hostile"))


EXPECTED_PROBLEMS = {
    "latin1.txt": "not valid UTF-8",
    "binary.txt": "looks binary",
    "empty.txt": "the file is empty",
    "blank.md": "the file is empty",
    "huge.txt": "50,000,000 bytes, over the 20,000,000-byte limit (RAGBOT_MAX_FILE_BYTES)",
    "corpus.jsonl, line 2": "not valid JSON",
    "corpus.jsonl, line 3": 'needs an "id" and a "text"',
    "corpus.jsonl, line 4": 'needs an "id" and a "text"',
    "corpus.jsonl#empty-text, line 6": "no text could be found",
}


def test_cli_ingest_reports_every_bad_file_and_keeps_the_good(hostile_folder: Path, tmp_path: Path) -> None:
    done = run(["ingest", str(hostile_folder), "--json"], tmp_path / "data")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["added"] == 4  # good-1, good-2, page.html, instructions.txt
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(EXPECTED_PROBLEMS) and all(line.startswith("ragbot: skipped ") for line in lines), lines
    for where, why in EXPECTED_PROBLEMS.items():
        assert any(where in line and why in line for line in lines), (where, why, lines)
    assert "Traceback" not in done.stderr

    listed = json.loads(run(["sources", "--json"], tmp_path / "data").stdout)
    assert {s["doc_id"] for s in listed} >= {"good-1", "good-2"}
    html = next(s for s in listed if s["source"].endswith("page.html"))
    assert html["title"] == "Ferry strike ends"


def test_cli_ingest_of_nothing_good_fails_with_one_sentence_per_input(hostile_folder: Path, tmp_path: Path) -> None:
    done = run(["ingest", str(hostile_folder / "binary.txt")], tmp_path / "data")
    assert done.returncode == 1 and "looks binary" in one_sentence(done.stderr)
    missing = run(["ingest", str(tmp_path / "nope.txt")], tmp_path / "data")
    assert missing.returncode == 1 and "no such file or folder" in one_sentence(missing.stderr)


def test_cli_hostile_questions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(["ingest", str(SAMPLE_ARTICLE)], data).returncode == 0
    for question, why in (("", "empty"), ("   \t  ", "empty"), ("x" * 20_000, "20,000 characters long; the limit is 2,000")):
        done = run(["ask", question], data)
        assert done.returncode == 1 and why in one_sentence(done.stderr), (question[:20], done.stderr)
        assert done.stdout == ""
    # Control characters (terminal escapes, bell, backspace) are dropped, the rest is answered.
    done = run(["ask", "--json", "what \x1b[31mexercises\x07 were\x08 mentioned?"], data)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answerable"] is True


def test_cli_batch_mode_answers_every_good_line_around_bad_ones(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(["ingest", str(SAMPLE_ARTICLE)], data).returncode == 0
    questions = ["what exercises were mentioned?", "", "  ", "y" * 20_000, "nul\x00 and escape \x1b[2J", "what exercises were mentioned?"]
    done = run(["ask", "--json"], data, stdin="\n".join(questions) + "\n")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == len(questions)  # one line out per line in, in order: nothing lost
    assert rows[0]["answerable"] and rows[5]["answerable"] and rows[0]["answer"] == rows[5]["answer"]
    assert "empty" in rows[1]["error"] and "empty" in rows[2]["error"] and "limit is 2,000" in rows[3]["error"]
    assert "error" not in rows[4] and "answer" in rows[4]


def test_secrets_never_appear_in_output(tmp_path: Path) -> None:
    data = tmp_path / "data"
    closed = free_port()
    runs = [
        run(["ingest", str(SAMPLE_ARTICLE), "--json"], data, **SECRETS),
        run(["ask", "--json", "what exercises were mentioned?"], data, **SECRETS),
        run(["search", "--json", "exercises"], data, **SECRETS),
        run(["sources", "--json"], data, **SECRETS),
        run(["ask", "--json"], data, stdin="what exercises were mentioned?\n\n", **SECRETS, RAGBOT_DEBUG="1"),
        # failures: an unreachable Chroma server, an unreachable language model, an invalid setting
        run(["ask", "--json", "what exercises?"], data, **SECRETS, RAGBOT_CHROMA_URL=f"http://127.0.0.1:{closed}"),
        run(["ask", "--json", "what exercises were mentioned?"], data, **SECRETS, RAGBOT_GENERATOR="openai",
            RAGBOT_OPENAI_BASE_URL=f"http://127.0.0.1:{closed}/v1", RAGBOT_LLM_MODEL="m", RAGBOT_LLM_TIMEOUT="5"),
        run(["ask", "x"], data, **SECRETS, RAGBOT_K="many"),
        run(["ingest", f"http://user:{SECRETS['RAGBOT_CHROMA_TOKEN']}@127.0.0.1:{closed}/a.html"], data, **SECRETS),
    ]
    assert runs[0].returncode == 0 and runs[1].returncode == 0 and json.loads(runs[1].stdout)["answerable"]
    assert all(r.returncode != 0 for r in runs[5:]), [(r.returncode, r.stderr) for r in runs[5:]]
    for r in runs:
        for name, secret in SECRETS.items():
            assert secret not in r.stdout and secret not in r.stderr, (name, r.args, r.stderr[-500:])
            assert secret[8:24] not in r.stdout + r.stderr  # not even a fragment


def test_cli_ingest_of_a_named_pipe_says_so_and_returns(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    good = tmp_path / "good.txt"
    good.write_text(GOOD)
    alone = run(["ingest", str(fifo)], tmp_path / "data")  # (times out, and fails, if the read blocks)
    assert alone.returncode == 1 and "is a named pipe, not a regular file" in one_sentence(alone.stderr)
    both = run(["ingest", str(fifo), str(good), "--json"], tmp_path / "data")
    assert both.returncode == 0 and json.loads(both.stdout)["added"] == 1
    assert "named pipe" in one_sentence(both.stderr)



def test_cli_reports_a_repeated_corpus_id(tmp_path: Path) -> None:
    corpus = write_repeated_id_corpus(tmp_path)
    done = run(["ingest", str(corpus), "--duplicates", "skip", "--json"], tmp_path / "data")
    assert done.returncode == 0, done.stderr
    line = one_sentence(done.stderr)
    assert "line 3: the id 'ferry' repeats line 1; line 3 is skipped" in line
    assert json.loads(done.stdout)["added"] == 2


def test_cli_ingest_from_a_slow_server_says_so(tmp_path: Path) -> None:
    server = DripServer(drip_headers=False)
    try:
        done = run(["ingest", f"http://127.0.0.1:{server.port}/slow.html"], tmp_path / "data",
                   RAGBOT_FETCH_TIMEOUT="2", RAGBOT_ALLOWED_HOSTS="127.0.0.1")
    finally:
        server.close()
    assert done.returncode == 1
    assert "took longer than 2 s in all to download" in one_sentence(done.stderr)
