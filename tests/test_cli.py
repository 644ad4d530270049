"""The `ragbot` command line as scripts use it: real processes, real model, real Chroma on disk."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.loaders import SAMPLE_ARTICLE


def ragbot(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture
def ingested(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("Lighthouse keepers\nThe lighthouse on Skerry Island was automated in 1987.")
    result = ragbot("ingest", str(SAMPLE_ARTICLE), str(tmp_path / "notes.txt"))
    assert result.returncode == 0, result.stderr
    assert "Added 2" in result.stdout
    return tmp_path


def test_ask_json_batch_mode_keeps_order_and_contract(ingested: Path) -> None:
    questions = "what exercises were mentioned?\nWhen was the lighthouse automated?\nWhat is the capital of Peru?\n\n"
    result = ragbot("ask", "--json", stdin=questions)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == [
        "what exercises were mentioned?",
        "When was the lighthouse automated?",
        "What is the capital of Peru?",
        "",
    ]
    first, second, third, blank = rows
    for key in ("question", "answer", "answerable", "citations", "generator", "timings_ms"):
        assert key in first
    assert first["answerable"] and "Sea of Japan" in first["answer"]
    text = SAMPLE_ARTICLE.read_text()
    for c in first["citations"]:
        assert set(c) >= {"n", "doc_id", "source", "title", "chunk_id", "quote", "start", "end"}
        assert text[c["start"] : c["end"]] == c["quote"]
    assert "1987" in second["answer"]
    assert third["answerable"] is False and third["citations"] == []
    assert "empty" in blank["error"]


def test_search_json_and_sources_and_forget(ingested: Path) -> None:
    result = ragbot("search", "--json", "--k", "2", "lighthouse automated")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["query"] == "lighthouse automated"
    assert [h["rank"] for h in row["hits"]] == [1, 2]
    assert set(row["hits"][0]) >= {"rank", "doc_id", "chunk_id", "source", "title", "score", "text", "start", "end"}
    assert row["hits"][0]["title"] == "Lighthouse keepers"

    sources = json.loads(ragbot("sources", "--json").stdout)
    notes_id = str((ingested / "notes.txt").resolve())
    assert {s["doc_id"] for s in sources} == {str(SAMPLE_ARTICLE.resolve()), notes_id}

    assert ragbot("forget", notes_id).returncode == 0
    again = ragbot("forget", notes_id)
    assert again.returncode == 1 and "no document" in again.stderr
    assert len(json.loads(ragbot("sources", "--json").stdout)) == 1


def test_errors_are_one_sentence_without_traceback(tmp_path: Path) -> None:
    empty = ragbot("ask", "   ")
    assert empty.returncode == 1
    assert empty.stderr.strip().startswith("ragbot: The question is empty")
    assert "Traceback" not in empty.stderr and len(empty.stderr.strip().splitlines()) == 1

    long = ragbot("ask", "why " * 5000)
    assert long.returncode == 1 and "characters long" in long.stderr

    missing = ragbot("ingest", str(tmp_path / "nope.txt"))
    assert missing.returncode == 1 and "nope.txt: no such file or folder" in missing.stderr

    (tmp_path / "bad.bin").write_bytes(b"\x00\xff\x00")
    (tmp_path / "ok.txt").write_text("Kestrels hover before they dive.")
    partial = ragbot("ingest", str(tmp_path / "bad.bin"), str(tmp_path / "ok.txt"))
    assert partial.returncode == 0 and "bad.bin: the file looks binary" in partial.stderr and "Added 1" in partial.stdout

    bad_setting = ragbot("sources", env={"RAGBOT_K": "many"})
    assert bad_setting.returncode == 1 and "RAGBOT_K" in bad_setting.stderr and "Traceback" not in bad_setting.stderr


def test_eval_command_reports_retrieval_and_answers(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"id": "a", "title": "Kestrel", "text": "The kestrel hovers over fields while hunting voles."},
        {"id": "b", "title": "Heron", "text": "The grey heron stands still in shallow water to catch fish."},
        {"id": "c", "title": "Swift", "text": "Common swifts sleep on the wing and can stay airborne for ten months."},
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    questions = tmp_path / "q.jsonl"
    qs = [
        {"question": "What does the kestrel hunt?", "answers": ["voles"], "gold_passage_id": "a"},
        {"question": "How long can swifts stay airborne?", "answers": ["ten months"], "gold_passage_id": "c"},
        {"question": "Who won the 1998 football world cup?", "answers": [], "is_impossible": True},
    ]
    questions.write_text("".join(json.dumps(q) + "\n" for q in qs))
    result = ragbot("eval", str(questions), "--corpus", str(corpus), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == 3 and report["impossible_questions"] == 1
    assert report["hit_at_1"] == 1.0 and report["answer_containment"] == 1.0
    assert report["abstention_accuracy"] == 1.0
    # a throwaway data dir: nothing was ingested into the configured library
    assert json.loads(ragbot("sources", "--json").stdout) == []
