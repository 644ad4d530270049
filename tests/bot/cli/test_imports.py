"""What the command line imports: the question path never loads PyTorch; quick commands load no model runtime."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from retrieval.library import Library
from tests.support.paths import ROOT

TORCH = {"torch", "sentence_transformers", "transformers"}
# Batch mode in-process, then the PyTorch modules left in sys.modules.
RUNNER = (
    "import sys; import bot.cli.commands; bot.cli.commands.main(['ask', '--json']); "
    "print('MODULES', sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sentence_transformers', 'transformers')))"
)


def run_cli(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `python -X importtime -m bot.cli ARGS` (the test's environment: its data dir, the exported model) and
    return the process and every module it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot.cli", *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        check=False,
    )
    modules = set()
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)\s*$", line)
        if m:
            modules.add(m.group(1))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, modules


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_help_imports_no_model_runtime() -> None:
    """`ragbot --help` stays light: no torch, no onnxruntime, not even Chroma."""
    proc, modules = run_cli("--help")
    assert "ask" in proc.stdout
    assert not top_level(modules) & (TORCH | {"onnxruntime", "chromadb", "tokenizers"})


def test_sources_does_not_load_the_model(sample_library: Library) -> None:
    """`ragbot sources` reads the library without loading an embedding runtime."""
    proc, modules = run_cli("sources", "--json")
    assert [s["doc_id"] for s in json.loads(proc.stdout)] == [sample_library.sources()[0].doc_id]
    assert not top_level(modules) & (TORCH | {"onnxruntime"})


@pytest.mark.parametrize("command", ["ask", "search"])
def test_question_path_does_not_import_torch(sample_library: Library, command: str) -> None:
    """With the ONNX file exported, `ask` and `search` answer through onnxruntime without importing PyTorch."""
    proc, modules = run_cli(command, "--json", "Who did Belousov meet on Tuesday?")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["hits"] if command == "search" else out["answerable"]
    assert "onnxruntime" in top_level(modules)
    assert not top_level(modules) & TORCH, sorted(top_level(modules) & TORCH)


def test_batch_mode_does_not_import_torch(sample_library: Library) -> None:
    """Batch mode (questions on standard input) takes the same path."""
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, input="Who is Russia's defence minister?\nWho is China's defence minister?\n",
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len([json.loads(x) for x in lines[:-1]]) == 2
    assert lines[-1] == "MODULES []"
