"""Killing a writer mid-ingest: the child process (tests/support/crash_child.py) and the library it leaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from retrieval.embedding import Embedder
from retrieval.library import Library
from retrieval.settings import Settings
from tests.support.helpers import HashingEmbedder
from tests.support.paths import MODELS_DIR, ROOT


def hashing_library(data_dir: Path, embedder: Embedder) -> Library:
    settings = Settings(_env_file=None, data_dir=data_dir, model_cache_dir=MODELS_DIR)  # type: ignore[call-arg]
    return Library(settings, embedder=HashingEmbedder(embedder.tokenizer))


def run_and_kill(data_dir: Path, corpus: Path, mode: str, pause_after: int, kill_at_done: int | None = None) -> list[str]:
    """Start the child, SIGKILL it when it freezes (or once `kill_at_done` documents are reported); its output."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.crash_child", str(data_dir), str(corpus), mode, str(pause_after)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    lines: list[str] = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.startswith("frozen") or (kill_at_done is not None and line.startswith("done ") and int(line.split()[1]) >= kill_at_done):
            child.send_signal(signal.SIGKILL)
            break
    returncode = child.wait(timeout=600)
    assert returncode == -signal.SIGKILL, (returncode, lines[-5:], child.stderr.read() if child.stderr else "")
    assert "finished" not in lines
    return lines
