"""Shared helpers for the benchmark scripts: machine facts, child processes with peak memory, tables, JSON.

Benchmarks print ratios against a baseline measured in the same run, interleaved with the
measured thing, so that load from other work on the machine hits both alike; medians of
repeats are reported and the spread is shown so noise is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DATA = ROOT / "data"  # vendored data sets (data/README.md)
SQUAD = DATA / "squad-v1.1-dev"
MODELS = Path(os.environ.get("RAGBOT_TEST_MODELS", ROOT / ".ragbot-test-models"))

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, load and the BLAS/threading environment of this run."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


@dataclass
class Run:
    """One child process: wall seconds, peak RSS in MB, exit status, CPU seconds (user + system) and output."""

    seconds: float
    peak_mb: float
    returncode: int
    cpu_seconds: float
    stdout: str
    stderr: str


def run_measured(argv: Sequence[str], env: Mapping[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None) -> Run:
    """Run a child to completion, reaped with os.wait4 so that its own peak RSS is known."""
    full_env = {**os.environ, **(env or {})}
    out_f = _tmpfile()
    err_f = _tmpfile()
    in_f = _tmpfile()
    if stdin is not None:
        in_f.write(stdin.encode())
        in_f.flush()
        in_f.seek(0)
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=full_env, cwd=cwd, stdin=in_f, stdout=out_f, stderr=err_f)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out_f.seek(0)
    err_f.seek(0)
    return Run(seconds, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime, out_f.read().decode(), err_f.read().decode())


def scale_library(path: str) -> Path:
    """An argparse type: a library that `bench/scale.py --work W` left (W/lib-SIZE), or a one-sentence error."""
    if not (Path(path) / "chroma").is_dir():
        raise argparse.ArgumentTypeError(f"{path} is not a library from bench/scale.py --work W (no chroma folder in it).")
    return Path(path)


def add_library_pair(parser: argparse.ArgumentParser, rounds: int) -> None:
    """The arguments of a benchmark that ingests into a small and a large scale library by turns: both, --rounds, --seed."""
    parser.add_argument("small", type=scale_library, help="the small library (W/lib-1000, built with the bundled model)")
    parser.add_argument("large", type=scale_library, help="the large library (W/lib-100000, built with the cheap embedder)")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--seed", type=int, default=time.time_ns() % 1_000_000, help="round i ingests the articles of seed + i (default: from the clock)")


def child_json(argv: Sequence[str]) -> dict[str, Any]:
    """Run a benchmark's child (this Python, the checkout on its path); the JSON object its last output line holds.

    A child that fails ends this benchmark with the tail of its standard error.
    """
    out = subprocess.run([PY, *argv], capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _tmpfile() -> Any:
    import tempfile

    return tempfile.TemporaryFile()


def median(xs: Sequence[float]) -> float:
    """The median (nan for no data)."""
    return statistics.median(xs) if xs else float("nan")


def percentile(xs: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def spread(xs: Sequence[float]) -> str:
    """min–max of repeats, to show noise next to a median."""
    return f"{min(xs):.3g}–{max(xs):.3g}" if xs else "-"


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str] = ()) -> None:
    """A rich table (plain text when rich is missing), followed by notes."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover
        print(title)
        print(" | ".join(columns))
        for r in rows:
            print(" | ".join(str(c) for c in r))
    else:
        table = Table(title=title, title_justify="left")
        for i, c in enumerate(columns):
            table.add_column(c, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*[str(c) for c in r])
        Console(width=160).print(table)
    for n in notes:
        print(f"  note: {n}")
    print()


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The same table as GitHub markdown (for docs/performance.md and the other docs)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    """Write results as JSON when --json FILE was given."""
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=1, default=str))
    print(f"wrote {path}")


def ratio(a: float, b: float) -> str:
    """a/b formatted as 1.23×."""
    return f"{a / b:.2f}×" if b else "-"


def squad_passages(n: int | None) -> list[dict[str, Any]]:
    """The first n SQuAD v1.1 dev passages (all when n is None)."""
    rows = []
    with (SQUAD / "passages.jsonl").open() as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
                if n is not None and len(rows) >= n:
                    break
    return rows


def squad_questions(n: int, seed: int = 0, passage_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """n SQuAD questions with a fixed seed, optionally only those whose gold passage is in passage_ids."""
    import random

    rows = [json.loads(line) for line in (SQUAD / "questions.jsonl").open() if line.strip()]
    if passage_ids is not None:
        rows = [r for r in rows if str(r.get("gold_passage_id")) in passage_ids]
    return random.Random(seed).sample(rows, min(n, len(rows)))


def chunk_texts(jsonl: Path) -> list[tuple[str, str]]:
    """(doc_id, indexed text) of every chunk ragbot embeds for a JSONL corpus, made with ragbot's own loader and chunker."""
    from retrieval.embedding import load_embedder
    from retrieval.ingest.chunking import chunk_document
    from retrieval.ingest.loaders import load_sources
    from retrieval.settings import Settings
    from retrieval.text import indexed_text

    s = Settings(_env_file=None)  # type: ignore[call-arg]
    tok = load_embedder(None, "onnx", MODELS).tokenizer
    out: list[tuple[str, str]] = []
    for item in load_sources([str(jsonl)], 10**9):
        if item.document:
            d = item.document
            out += [(d.doc_id, indexed_text(d.title, c.text)) for c in chunk_document(d, tok, s.chunk_tokens, s.chunk_overlap_tokens)]
    return out
