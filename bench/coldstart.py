"""Benchmark 3 — cold start: `ragbot ask "…"` as a whole process against two bare processes.

    .venv/bin/python bench/coldstart.py                          # builds a 500-passage SQuAD library, 5 repeats
    .venv/bin/python bench/coldstart.py --data-dir DIR --repeats 7

Interleaved, each repeat runs three fresh processes (wall time from spawn to exit, peak RSS from wait4):
  (a) bare PyTorch: import sentence-transformers, load the bundled model, encode one sentence;
  (b) bare ONNX + Chroma: load the ONNX session and tokenizer, encode one sentence, open the
      Chroma PersistentClient on the library;
  ragbot: `ragbot ask --json "QUESTION"` on the library (the exported ONNX file already exists,
      the keyword index is built on the first run when its file is missing: that first run is shown apart).
Goals: ragbot ≤ 0.3× (a) and ≤ 1.3× (b).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

from _common import (
    MODELS,
    PY,
    ROOT,
    machine,
    markdown_table,
    median,
    print_table,
    ratio,
    run_measured,
    spread,
    write_json,
)
from questions import library_dir

QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="an existing ragbot data dir (default: build one in a temp dir)")
    ap.add_argument("--passages", type=int, default=500, help="passages for the built library; 0 = all 2,067")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write results to this file")
    args = ap.parse_args()
    info = machine()
    data_dir, tmp = library_dir(args.data_dir, args.passages, "cold")
    try:
        from retrieval.embedding import export_onnx
        from retrieval.settings import Settings

        backend = os.environ.get("RAGBOT_EMBED_BACKEND") or Settings(_env_file=None).embed_backend  # type: ignore[call-arg]
        model_dir = export_onnx(None, MODELS, quantize=backend == "onnx-int8")
        env = {"RAGBOT_DATA_DIR": str(data_dir)}
        commands = {
            "(a) bare PyTorch": [PY, str(ROOT / "bench" / "bare.py"), "cold-torch"],
            "(b) bare ONNX + Chroma": [PY, str(ROOT / "bench" / "bare.py"), "cold-onnx", "--model-dir", str(model_dir),
                                       "--chroma", str(data_dir / "chroma")] + (["--int8"] if backend == "onnx-int8" else []),
            "ragbot ask": [PY, "-m", "bot.cli", "ask", "--json", QUESTION],
        }
        # The first ask of a library whose keyword index file is missing rebuilds it; later ones open it.
        for f in (data_dir / "keyword").glob("*.sqlite3*"):
            f.unlink()
        first = run_measured(commands["ragbot ask"], env=env, cwd=ROOT)
        if first.returncode:
            raise SystemExit(f"ragbot ask failed: {first.stderr}")
        runs: dict[str, list] = {name: [] for name in commands}
        for rep in range(args.repeats):
            names = list(commands) if rep % 2 == 0 else list(reversed(commands))
            for name in names:
                r = run_measured(commands[name], env=env, cwd=ROOT)
                if r.returncode:
                    raise SystemExit(f"{name} failed: {r.stderr[-2000:]}")
                runs[name].append(r)
            print(f"  repeat {rep + 1} done", flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    secs = {n: [r.seconds for r in rs] for n, rs in runs.items()}
    mem = {n: [r.peak_mb for r in rs] for n, rs in runs.items()}
    cpu = {n: [r.cpu_seconds for r in rs] for n, rs in runs.items()}
    a, b = median(secs["(a) bare PyTorch"]), median(secs["(b) bare ONNX + Chroma"])
    ca, cb = median(cpu["(a) bare PyTorch"]), median(cpu["(b) bare ONNX + Chroma"])
    columns = ["process", "wall s (median)", "min–max", "wall vs (a)", "wall vs (b)", "CPU s", "CPU vs (a)", "CPU vs (b)", "peak RSS MB"]
    rows = [[n, f"{median(s):.2f}", spread(s), ratio(median(s), a), ratio(median(s), b),
             f"{median(cpu[n]):.2f}", ratio(median(cpu[n]), ca), ratio(median(cpu[n]), cb), f"{median(mem[n]):.0f}"] for n, s in secs.items()]
    rows.append(["ragbot ask, first without an index file (rebuilds it)", f"{first.seconds:.2f}", "1 run",
                 ratio(first.seconds, a), ratio(first.seconds, b), f"{first.cpu_seconds:.2f}", ratio(first.cpu_seconds, ca),
                 ratio(first.cpu_seconds, cb), f"{first.peak_mb:.0f}"])
    answer = json.loads(first.stdout.strip().splitlines()[-1])
    notes = [f"backend {backend}; {args.repeats} interleaved repeats; question {QUESTION!r} -> {answer['answer'][:80]!r}",
             f"load average at start {info['load_avg_at_start']} (other work shares these cores; ratios are what to read)."]
    print_table("Cold start: one `ragbot ask` process against bare processes", columns, rows, notes)
    print(markdown_table(columns, rows))
    write_json(args.json, {"benchmark": "coldstart", "machine": info, "backend": backend, "seconds": secs, "cpu_seconds": cpu, "peak_mb": mem,
                           "first": {"seconds": first.seconds, "cpu_seconds": first.cpu_seconds, "peak_mb": first.peak_mb}, "columns": columns, "rows": rows})


if __name__ == "__main__":
    main()
