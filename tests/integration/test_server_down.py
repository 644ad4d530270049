"""A Chroma server that dies mid-batch: questions wait for it (saying so), and fail one by one, in order, if it stays away.

A real `chroma run` is stopped in the middle of a stdin `ask --json` batch and started again on
the same port and data; a long-lived engine (as the REPL and bot hold) recovers without a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from retrieval.embedding import Embedder
from retrieval.errors import RagbotError
from retrieval.library import Library
from tests.support.chroma import ChromaServer, make_settings
from tests.support.cli import RAGBOT, cli_env

QUESTION = "what exercises were mentioned?"
VARIANTS = [QUESTION.capitalize(), QUESTION.upper(), QUESTION.title(), QUESTION.swapcase()]  # the same question, told apart
AWAY = "is not answering; retrying for up to"


class RestartableServer(ChromaServer):
    """A Chroma server that can be stopped and started again on the same port and data folder."""

    def restart(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(Path(self.proc.args[0])), "run", "--path", str(self.folder / "db"), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"},
            )
        self._wait_ready()


def _library(server: ChromaServer, tmp_path: Path, embedder: Embedder, **extra: object) -> Library:
    lib = Library(make_settings("server", tmp_path, server, embed_backend="onnx", **extra), embedder=embedder)
    lib.ingest_sample()
    return lib


def test_a_batch_waits_for_a_restarted_server_and_answers_every_question_in_order(tmp_path: Path, embedder: Embedder) -> None:
    (tmp_path / "server").mkdir()
    server = RestartableServer(tmp_path / "server")
    try:
        lib = _library(server, tmp_path, embedder)
        env = cli_env(lib.settings, RAGBOT_EMBED_BACKEND="onnx", RAGBOT_CHROMA_RETRY_SECONDS="120")
        child = subprocess.Popen([str(RAGBOT), "ask", "--json"], env=env, text=True, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        rows = []
        for _ in range(3):
            child.stdin.write(QUESTION + "\n")
            child.stdin.flush()
            rows.append(json.loads(child.stdout.readline()))
        server.stop()
        for question in VARIANTS:
            child.stdin.write(question + "\n")
        child.stdin.flush()
        told = child.stderr.readline()  # the child says it waits (the read blocks until it does)
        time.sleep(4)
        server.restart()
        child.stdin.close()
        rows += [json.loads(line) for line in child.stdout]
        assert child.wait(timeout=300) == 0
    finally:
        server.stop()
    assert AWAY in told and told.startswith("ragbot: The Chroma server at http://127.0.0.1:"), told
    assert [r["question"] for r in rows] == [QUESTION] * 3 + VARIANTS
    assert all(r.get("answerable") for r in rows), [(r["question"], r.get("answerable"), r.get("error")) for r in rows]


def test_questions_fail_one_by_one_while_the_server_stays_away_then_it_recovers(tmp_path: Path, embedder: Embedder) -> None:
    (tmp_path / "server").mkdir()
    server = RestartableServer(tmp_path / "server")
    try:
        lib = _library(server, tmp_path, embedder, chroma_retry_seconds=1.0)
        told: list[str] = []
        lib.notify = told.append
        assert lib.ask(QUESTION, generator="extractive").answerable
        server.stop()
        env = cli_env(lib.settings, RAGBOT_EMBED_BACKEND="onnx", RAGBOT_CHROMA_RETRY_SECONDS="1")
        batch = subprocess.run([str(RAGBOT), "ask", "--json"], env=env, text=True, input=f"{QUESTION}\nsecond\nthird\n",
                               capture_output=True, cwd=tmp_path, timeout=300, check=False)
        for question in (QUESTION, "where did he go?"):  # a long-lived engine: one sentence each, never a crash
            try:
                lib.ask(question, generator="extractive")
                raise AssertionError("the server is down: the question cannot be answered")
            except RagbotError as exc:
                assert "did not answer for 1 s; check that it is running" in str(exc)
        server.restart()
        assert lib.ask(QUESTION, generator="extractive").answerable  # recovered without a restart
        assert len(lib.sources()) == 1
    finally:
        server.stop()
    assert told and AWAY in told[0]
    assert batch.returncode == 1, batch.stderr
    rows = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [r["question"] for r in rows] == [QUESTION, "second", "third"]
    assert all("did not answer for 1 s" in r["error"] for r in rows), rows


def test_the_repl_keeps_going_while_the_server_is_away_and_recovers(tmp_path: Path, embedder: Embedder) -> None:
    import queue
    import threading

    (tmp_path / "server").mkdir()
    server = RestartableServer(tmp_path / "server")
    lines: queue.Queue[str] = queue.Queue()

    def until(predicate: object, seen: list[str], count: int = 1) -> None:
        hits = 0
        while hits < count:
            try:
                line = lines.get(timeout=90)
            except queue.Empty:
                raise AssertionError(f"the REPL stopped short: {seen}") from None
            seen.append(line)
            hits += bool(predicate(line))  # type: ignore[operator]

    try:
        lib = _library(server, tmp_path, embedder)
        env = cli_env(lib.settings, RAGBOT_EMBED_BACKEND="onnx", RAGBOT_CHROMA_RETRY_SECONDS="1")
        repl = subprocess.Popen([str(RAGBOT), "repl"], env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=tmp_path)
        assert repl.stdin is not None and repl.stdout is not None
        threading.Thread(target=lambda: [lines.put(x) for x in repl.stdout], daemon=True).start()  # type: ignore[union-attr]
        seen: list[str] = []
        repl.stdin.write(QUESTION + "\n")
        repl.stdin.flush()
        until(lambda x: "[1]" in x, seen)
        server.stop()
        repl.stdin.write(":sources\n" + QUESTION + "\n")
        repl.stdin.flush()
        until(lambda x: "check that it is running." in x, seen, count=2)  # one sentence each, and the REPL goes on
        server.restart()
        repl.stdin.write(QUESTION + "\n:quit\n")
        repl.stdin.flush()
        until(lambda x: "[1]" in x, seen)
        assert repl.wait(timeout=120) == 0
    finally:
        server.stop()
    assert "Traceback" not in "".join(seen)
