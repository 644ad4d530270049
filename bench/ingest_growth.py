"""Ingest throughput into a large library against a small one, as a bot's first /ingest and a `ragbot ingest` see it.

    python bench/ingest_growth.py W/lib-1000 W/lib-100000 [--rounds 5]

W is a `bench/scale.py --work W` folder (the small library built with the bundled model, the large one
with the cheap embedder, as scale.py builds them). Each round runs four fresh child processes, each
ingesting about 1,000 new chunks of scale.py's generated articles with the bundled model
(`first_ingest.child`): into the small library and into the large one, each once *warmed* (after
`Library.warm()`, what `ragbot bot` does at start-up: the keyword index and Chroma's vector index
are open before the clock) and once *cold* (what a `ragbot ingest` command does: the ingest opens the
library itself). Only the embedding model is loaded before the clock in both. The small library is
restored from a copy before each of its runs, so it stays at its size; the large one grows by
about 1,000 chunks a run. Each round ingests articles of its own (the four runs of a round the same
ones): the same texts in every run would pile exact copies into the large library, and each later
run's duplicate check would compare every new article with all of them. Prints chunks per second and, per round, the large library's rate as a
share of the small one's (the issue's goal: at least 0.90 at 10^5 against 10^3).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import add_library_pair, child_json, print_table  # first: it puts the checkout on sys.path

MODES = ("warmed", "cold")


def run(library: Path, real: bool, warm: bool, seed: int) -> float:
    """Chunks per second of one fresh process's first ingest into `library` (of the articles `seed` generates)."""
    r = child_json([str(Path(__file__).with_name("first_ingest.py")), str(library), "--child", "on", "--seed", str(seed),
                    *(["--real"] if real else []), *(["--warm"] if warm else [])])
    return float(r["chunks"] / r["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_library_pair(parser, rounds=5)
    args = parser.parse_args()
    rates: dict[tuple[str, str], list[float]] = {(m, s): [] for m in MODES for s in ("small", "large")}
    with tempfile.TemporaryDirectory() as tmp:
        pristine = Path(tmp) / "pristine"
        shutil.copytree(args.small, pristine)
        for i in range(args.rounds):
            for mode in MODES:
                shutil.rmtree(args.small)
                shutil.copytree(pristine, args.small)
                rates[(mode, "small")].append(run(args.small, True, mode == "warmed", args.seed + i))
                rates[(mode, "large")].append(run(args.large, False, mode == "warmed", args.seed + i))
                print(f"  round {i + 1} {mode}: small {rates[(mode, 'small')][-1]:.1f}, large {rates[(mode, 'large')][-1]:.1f} chunks/s",
                      file=sys.stderr, flush=True)
        shutil.rmtree(args.small)
        shutil.copytree(pristine, args.small)
    rows = []
    for mode in MODES:
        small, large = rates[(mode, "small")], rates[(mode, "large")]
        shares = [b / a for a, b in zip(small, large, strict=True)]
        rows.append([mode, f"{statistics.median(small):.1f} ({min(small):.1f}–{max(small):.1f})",
                     f"{statistics.median(large):.1f} ({min(large):.1f}–{max(large):.1f})",
                     f"{statistics.median(shares):.3f} ({min(shares):.3f}–{max(shares):.3f})"])
    print_table(f"a fresh process's first ingest of about 1,000 chunks, {args.rounds} rounds, chunks per second",
                ["library opened", f"{args.small.name}: median (range)", f"{args.large.name}", "large / small, per round: median (range)"], rows,
                ["warmed: Library.warm() before the clock, as `ragbot bot` does at start-up; cold: as a `ragbot ingest` command."])


if __name__ == "__main__":
    main()
