"""Benchmark 4 — what each command imports, and how long `ragbot --help` and `ragbot sources` take.

    .venv/bin/python bench/imports.py                    # builds a 100-passage library, 7 repeats
    .venv/bin/python bench/imports.py --data-dir DIR

For each command: the heavy modules it imports (from `python -X importtime`, a separate run)
and its wall time as a fresh process (median of repeats, interleaved with the baseline), next to
the baseline of a bare interpreter (`python -c pass`) run in the same loop. `--help` must stay
under 0.3 s; `--help` and `sources` must import neither torch nor onnxruntime; `ask`/`search`
must not import torch once the ONNX file exists.
"""

from __future__ import annotations

import argparse
import re
import shutil

from _common import PY, ROOT, machine, markdown_table, median, print_table, run_measured, spread, write_json
from questions import library_dir

HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime", "chromadb", "tokenizers", "numpy", "scipy")


def imported(argv: list[str], env: dict[str, str]) -> list[str]:
    """The HEAVY top-level packages a command imports, from -X importtime."""
    r = run_measured([PY, "-X", "importtime", *argv], env=env, cwd=ROOT, stdin="")
    found = set()
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", line)
        if m:
            found.add(m.group(1).split(".")[0])
    return [h for h in HEAVY if h in found]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="an existing ragbot data dir (default: build one in a temp dir)")
    ap.add_argument("--passages", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", help="write results to this file")
    args = ap.parse_args()
    info = machine()
    data_dir, tmp = library_dir(args.data_dir, args.passages, "imports")
    env = {"RAGBOT_DATA_DIR": str(data_dir)}
    q = "Which NFL team represented the AFC at Super Bowl 50?"
    commands = {
        "baseline: python -c pass": [PY, "-c", "pass"],
        "ragbot --help": [PY, "-m", "bot.cli", "--help"],
        "ragbot sources --json": [PY, "-m", "bot.cli", "sources", "--json"],
        "ragbot search --json Q": [PY, "-m", "bot.cli", "search", "--json", q],
        "ragbot ask --json Q": [PY, "-m", "bot.cli", "ask", "--json", q],
    }
    try:
        mods = {n: imported(c[1:], env) if not n.startswith("baseline") else [] for n, c in commands.items()}
        secs: dict[str, list[float]] = {n: [] for n in commands}
        cpu: dict[str, list[float]] = {n: [] for n in commands}
        for rep in range(args.repeats):
            for n in (commands if rep % 2 == 0 else reversed(commands)):
                r = run_measured(commands[n], env=env, cwd=ROOT)
                if r.returncode:
                    raise SystemExit(f"{n} failed: {r.stderr[-1500:]}")
                secs[n].append(r.seconds)
                cpu[n].append(r.cpu_seconds)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    base = median(secs["baseline: python -c pass"])
    cbase = median(cpu["baseline: python -c pass"])
    columns = ["command", "wall s (median)", "min–max", "wall vs bare interpreter", "CPU s", "CPU vs bare interpreter",
               "torch?", "onnxruntime?", "heavy modules imported"]
    rows = [[n, f"{median(s):.3f}", spread(s), f"{median(s) / base:.1f}×", f"{median(cpu[n]):.3f}", f"{median(cpu[n]) / cbase:.1f}×",
             "yes" if "torch" in mods[n] else "no", "yes" if "onnxruntime" in mods[n] else "no", ", ".join(mods[n]) or "-"]
            for n, s in secs.items()]
    notes = [f"{args.repeats} interleaved repeats; load average at start {info['load_avg_at_start']}; goal: --help < 0.3 s."]
    print_table("Imports and wall time of quick commands", columns, rows, notes)
    print(markdown_table(columns, rows))
    write_json(args.json, {"benchmark": "imports", "machine": info, "seconds": secs, "cpu_seconds": cpu, "modules": mods, "columns": columns, "rows": rows})


if __name__ == "__main__":
    main()
