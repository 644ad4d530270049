"""The `ragbot` command line as scripts use it: real processes, real model, real Chroma on disk."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.ingest.loaders import SAMPLE_ARTICLE
from tests.support.paths import ROOT


def ragbot(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        check=False, capture_output=True,
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

    (tmp_path / "bad.txt").write_bytes(b"\x00\xff\x00")
    (tmp_path / "ok.txt").write_text("Kestrels hover before they dive.")
    partial = ragbot("ingest", str(tmp_path / "bad.txt"), str(tmp_path / "ok.txt"))
    assert partial.returncode == 0 and "bad.txt: the file looks binary" in partial.stderr and "Added 1" in partial.stdout

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


def test_the_library_lives_in_the_user_data_dir_whatever_folder_ragbot_runs_from(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RAGBOT_DATA_DIR", "XDG_DATA_HOME")}
    home = tmp_path / "home"
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    (here / "notes.txt").write_text("Lighthouse keepers\nThe lighthouse on Skerry Island was automated in 1987.")

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], check=False, capture_output=True, text=True, cwd=cwd,
                              env={**env, "HOME": str(home), "PYTHONPATH": str(ROOT)}, timeout=300)

    assert run("ingest", "notes.txt", cwd=here).returncode == 0
    answer = run("ask", "When was the lighthouse automated?", cwd=there)
    assert answer.returncode == 0 and "1987" in answer.stdout, answer.stderr
    assert not (there / ".ragbot").exists() and not (here / ".ragbot").exists()
    where = home / ".local" / "share" / "ragbot"
    assert (where / "chroma").is_dir()
    listing = run("sources", cwd=there)
    assert f"1 document in {where}" in listing.stderr  # piped: the where goes to stderr, the table stays plain


def test_an_empty_library_says_so_and_how_to_add_articles(tmp_path: Path) -> None:
    for command in ("ask", "search"):
        result = ragbot(command, "what exercises were mentioned?")
        assert result.returncode == 1
        assert "The library 'ragbot' is empty: add articles with `ragbot ingest PATH_OR_URL`" in result.stderr
        assert "could not find" not in result.stdout + result.stderr


def test_sources_shows_whole_ids_as_plain_text_when_piped(tmp_path: Path) -> None:
    deep = tmp_path / "a-rather-long-folder-name-for-articles" / "and-another-level-below-it"
    deep.mkdir(parents=True)
    (deep / "library-note-about-the-lighthouse-keepers.md").write_text("# Lighthouse keepers\n\nThe lamp was lit at dusk.")
    assert ragbot("ingest", str(deep)).returncode == 0
    result = ragbot("sources", env={"COLUMNS": "80"})
    doc_id = str((deep / "library-note-about-the-lighthouse-keepers.md").resolve())
    assert len(doc_id) > 80
    header, row = result.stdout.splitlines()
    assert header.split("\t") == ["doc_id", "chunks", "added", "title"]
    assert row.split("\t")[0] == doc_id and row.split("\t")[1] == "1" and row.split("\t")[3] == "Lighthouse keepers"
    assert "─" not in result.stdout and "…" not in result.stdout


def test_forget_accepts_what_ingest_accepted_and_unique_prefixes(tmp_path: Path) -> None:
    for name in ("library-note.md", "library-other.md", "keepers.txt"):
        (tmp_path / name).write_text(f"# {name}\n\nThe lamp of {name} was lit at dusk.")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], check=False, capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)

    assert run("ingest", "library-note.md", "./library-other.md", "keepers.txt").returncode == 0
    assert run("forget", "library-note.md").stdout == f"Forgot {tmp_path.resolve() / 'library-note.md'}.\n"
    assert run("forget", "./library-other.md").returncode == 0
    ambiguous_files = [tmp_path / "kept-a.txt", tmp_path / "kept-b.txt"]
    for f in ambiguous_files:
        f.write_text(f"The lamp of {f.name} was lit at dusk.")
    assert run("ingest", *map(str, ambiguous_files)).returncode == 0
    ambiguous = run("forget", str(tmp_path / "kept-"))
    assert ambiguous.returncode == 1
    assert "starts the ids of 2 documents" in ambiguous.stderr
    assert all(str(f.resolve()) in ambiguous.stderr for f in ambiguous_files)
    assert run("forget", str(tmp_path / "kept-a")).returncode == 0  # a unique start of the id
    assert run("forget", str(tmp_path / "ke")).returncode == 1  # kept-b and keepers.txt
    left = {s["doc_id"] for s in json.loads(run("sources", "--json").stdout)}
    assert left == {str((tmp_path / "kept-b.txt").resolve()), str((tmp_path / "keepers.txt").resolve())}


def test_a_folder_and_a_named_file_follow_one_rule_and_skips_are_counted(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "note.txt").write_text("Kestrels hover before they dive.")
    (folder / "table.csv").write_text("a,b\n1,2\n")
    (folder / "more.csv").write_text("c,d\n3,4\n")
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n")
    result = ragbot("ingest", str(folder), str(folder / "table.csv"))
    assert result.returncode == 0, result.stderr
    assert "Added 1 document, replaced 0, unchanged 0 (1 chunk) in" in result.stdout
    assert "3 files not read (.csv: 2, .png: 1)" in result.stderr
    assert "table.csv: ragbot reads only" in result.stderr
    assert len(json.loads(ragbot("sources", "--json").stdout)) == 1


def test_eval_help_documents_the_question_file_format() -> None:
    result = ragbot("eval", "--help")
    for field in ('"question"', '"answers"', '"gold_passage_id"', '"is_impossible"', "doc_id"):
        assert field in result.stdout


def test_ask_on_a_terminal_without_a_question_says_it_reads_lines(tmp_path: Path) -> None:
    import pty
    import selectors

    main, replica = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ask"], stdin=replica, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(replica)
    try:
        # Without the hint the process sits silently: wait a bounded time instead of forever.
        waiting = selectors.DefaultSelector()  # poll-based: select() fails on descriptors past 1024 in a long run
        waiting.register(proc.stderr, selectors.EVENT_READ)  # type: ignore[arg-type]
        ready = waiting.select(60)
        assert ready, "ragbot ask said nothing while waiting for standard input"
        first = proc.stderr.readline()  # type: ignore[union-attr]
        assert "reading one question per line from standard input" in first and "Ctrl-D" in first
        os.write(main, b"\x04")  # Ctrl-D at the start of a line: end of input
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
        os.close(main)
