"""Benchmark 2 — warm questions: per-question latency of `search` and extractive `ask` against the bare path.

    .venv/bin/python bench/questions.py                                  # builds a 500-passage SQuAD library, 200 questions
    .venv/bin/python bench/questions.py --data-dir DIR --questions 300   # an existing library (e.g. all of SQuAD)

In one process, after warming up, each question goes through, in turn:
  * bare:   encode the question with onnxruntime + tokenizers (`bench/bare.py`'s BareOnnx, the
            same model file) and run one Chroma query for the k nearest chunks (ids, texts,
            distances) on the raw client;
  * search: `Library.search` (dense + BM25 fusion), what `ragbot search` runs per line;
  * ask:    `Library.ask` with the extractive composer, what `ragbot ask` runs per line.
The embedder's cache of recent texts is emptied before each timed call, so every path embeds
the question itself. Reported: p50 and p95 in ms and their ratio to the bare path (goal: ask p50 ≤ 1.5× bare).
With --cli it also times `ragbot ask --json` / `ragbot search --json` in batch mode (one process,
questions on standard input) from the gaps between output lines (the first line, which
carries start-up, is left out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from _common import (
    MODELS,
    PY,
    ROOT,
    machine,
    markdown_table,
    median,
    percentile,
    print_table,
    squad_passages,
    squad_questions,
    write_json,
)


def build_library(data_dir: Path, n: int) -> None:
    """Ingest the first n SQuAD passages into a library in data_dir."""
    work = data_dir.parent / "passages.jsonl"
    work.write_text("".join(json.dumps(p) + "\n" for p in squad_passages(n or None)))
    r = subprocess.run([PY, "-m", "bot.cli", "ingest", str(work), "--json"], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "RAGBOT_DATA_DIR": str(data_dir)}, check=False)
    if r.returncode:
        raise SystemExit(f"ingest failed: {r.stderr}")
    print(f"built a library of {n or 'all'} passages: {r.stdout.strip()}")


def library_dir(data_dir: str | None, passages: int, name: str) -> tuple[Path, Path | None]:
    """The given data dir, or a library of `passages` SQuAD passages built in a temp dir (returned to remove)."""
    os.environ.setdefault("RAGBOT_MODEL_CACHE_DIR", str(MODELS))
    if data_dir:
        return Path(data_dir), None
    tmp = Path(tempfile.mkdtemp(prefix=f"ragbot-bench-{name}-"))
    build_library(tmp / "data", passages)
    return tmp / "data", tmp


def cli_gaps(command: str, questions: list[str]) -> list[float]:
    """Per-question seconds of `ragbot COMMAND --json` in batch mode, from gaps between output lines."""
    proc = subprocess.Popen([PY, "-m", "bot.cli", command, "--json"], cwd=ROOT, text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin and proc.stdout
    proc.stdin.write("".join(q + "\n" for q in questions))
    proc.stdin.close()
    stamps = [time.perf_counter() for _ in iter(proc.stdout.readline, "")]
    proc.wait()
    return [b - a for a, b in pairwise(stamps[1:])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="an existing ragbot data dir (default: build one in a temp dir)")
    ap.add_argument("--passages", type=int, default=500, help="passages for the built library; 0 = all 2,067")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--cli", action="store_true", help="also time the CLI in batch mode")
    ap.add_argument("--json", help="write results to this file")
    args = ap.parse_args()
    info = machine()
    data_dir, tmp = library_dir(args.data_dir, args.passages, "questions")
    os.environ["RAGBOT_DATA_DIR"] = str(data_dir)
    try:
        result = measure(args, data_dir, info)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    write_json(args.json, result)


def measure(args: argparse.Namespace, data_dir: Path, info: dict[str, Any]) -> dict[str, Any]:
    from bare import BareOnnx

    from retrieval.embedding import export_onnx
    from retrieval.library import Library
    from retrieval.settings import Settings

    settings = Settings()
    lib = Library(settings)
    backend = settings.embed_backend
    col_name = settings.collection
    ids = {s.doc_id for s in lib.sources()}
    qs = [q["question"] for q in squad_questions(args.questions, passage_ids=ids)]
    if backend == "torch":
        raise SystemExit("the bare path here is ONNX: run with RAGBOT_EMBED_BACKEND=onnx or onnx-int8")
    bare = BareOnnx(export_onnx(settings.embed_model, settings.models_dir, quantize=backend == "onnx-int8"), int8=backend == "onnx-int8")
    raw_col = lib.client.get_collection(col_name, embedding_function=None)

    def run_bare(q: str) -> None:
        # The least a retriever can read: ids and distances, plus Chroma's documents (empty in a
        # library ragbot writes now: chunk texts sit in the metadata next to the stored sentence
        # vectors, and the baseline pays for neither, so it is a little stricter than before).
        raw_col.query(query_embeddings=bare.encode([q]), n_results=args.k, include=["documents", "distances"])

    parts: dict[str, list[float]] = {"embed": [], "retrieve": [], "compose": []}

    def run_ask(q: str) -> None:
        for name, ms in lib.ask(q, k=args.k).timings_ms.items():
            if name in parts:
                parts[name].append(ms / 1000)

    paths = {
        "bare (encode + 1 Chroma query)": run_bare,
        "search": lambda q: lib.search(q, k=args.k),
        "ask (extractive)": run_ask,
    }
    for q in qs[:5]:  # warm up every path
        for fn in paths.values():
            fn(q)
    for v in parts.values():
        v.clear()
    times: dict[str, list[float]] = {p: [] for p in paths}
    recent = getattr(lib.embedder, "_recent", None)
    for q in qs:
        for name, fn in paths.items():
            if recent is not None:
                recent.clear()  # each path embeds the question itself: no vector left over from the previous path
            t0 = time.perf_counter()
            fn(q)
            times[name].append(time.perf_counter() - t0)
    if args.cli:
        times["CLI `ragbot search --json` batch"] = cli_gaps("search", qs)
        times["CLI `ragbot ask --json` batch"] = cli_gaps("ask", qs)

    base50 = median(times["bare (encode + 1 Chroma query)"])
    base95 = percentile(times["bare (encode + 1 Chroma query)"], 95)
    columns = ["path", "p50 ms", "p95 ms", "p50 / bare", "p95 / bare"]
    rows = [[name, f"{median(t) * 1000:.1f}", f"{percentile(t, 95) * 1000:.1f}", f"{median(t) / base50:.2f}×",
             f"{percentile(t, 95) / base95:.2f}×"] for name, t in times.items()]
    for name, t in parts.items():
        rows.append([f"  ask: {name} (its own timer)", f"{median(t) * 1000:.1f}", f"{percentile(t, 95) * 1000:.1f}",
                     f"{median(t) / base50:.2f}×", f"{percentile(t, 95) / base95:.2f}×"])
    chunks = lib.collection().count()
    notes = [(f"{len(qs)} SQuAD questions over {len(ids)} passages ({chunks} chunks), k={args.k}, backend {backend}; "
              f"measured interleaved in one process after {min(5, len(qs))} warm-up questions.")]
    print_table("Warm questions: per-question latency against the bare path", columns, rows, notes)
    print(markdown_table(columns, rows))
    return {"benchmark": "questions", "machine": info, "backend": backend, "questions": len(qs), "passages": len(ids),
            "chunks": chunks, "seconds": times, "columns": columns, "rows": rows}


if __name__ == "__main__":
    main()
