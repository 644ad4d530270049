"""A fresh process's first real-model ingest into a large library, with Chroma's index load at the write or beside the work.

    python bench/first_ingest.py W/lib-100000 [--pairs 10]
    python bench/first_ingest.py W/lib-1000 --real

W is a `bench/scale.py --work W` folder. Each run is a fresh child process that opens the library,
warms the embedding model up (before the clock), and ingests about 1,000 new chunks of
`bench/scale.py`'s generated articles with the bundled model (under the cheap embedder's name
when the library was built with it, as `--real-ingest` does). Runs alternate between the
pipeline as shipped (`preload_vectors`: Chroma loads the vector index in a thread from the first
document) and the same pipeline with that thread doing nothing, so the load happens inside the
first write, as before. The table gives each step's median seconds and the pairs' differences.
Every run adds its chunks to the library.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _common import child_json, print_table, scale_library  # first: it puts the checkout on sys.path

MODES = ("at the write", "beside the work")


def child(data_dir: Path, preload: bool, real: bool, warm: bool = False, seed: int = 29) -> dict[str, float]:
    """One ingest in this process: seconds in the whole ingest, the embedding and `Collection.write_documents`.

    `warm`: the library is warmed before the clock (`Library.warm`, as `ragbot bot` does at start-up).
    `seed`: which generated articles are ingested (the same seed gives the same texts).
    """
    import scale

    from retrieval.ingest import pipeline
    from retrieval.store import Collection

    if not preload:
        def idle(col: Any, dim: int) -> threading.Thread:
            thread = threading.Thread(target=lambda: None)
            thread.start()
            return thread

        pipeline.preload_vectors = idle  # type: ignore[assignment]
    spent = {"embed": 0.0, "write": 0.0}

    def timed(key: str, fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t
        return run

    Collection.write_documents = timed("write", Collection.write_documents)  # type: ignore[method-assign]
    pipeline.embed_in_slices = timed("embed", pipeline.embed_in_slices)
    lib = scale.real_model_library(data_dir, real)
    if warm:
        lib.warm()
    docs = list(scale.articles(scale.MARGINAL_ARTICLES, seed=seed, prefix=f"f{time.time_ns()}-"))
    t = time.perf_counter()
    report = lib.ingest_documents(docs, duplicates="keep")
    total = time.perf_counter() - t
    lib.close()
    return {"chunks": report.chunks, "total": total, **spent, "rest": total - spent["embed"] - spent["write"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", type=scale_library, help="a data dir from `bench/scale.py --work W` (W/lib-SIZE)")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--real", action="store_true", help="the library was built with the bundled model (scale.py's sizes up to --real-up-to)")
    parser.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)  # the child warms the library first (bench/ingest_growth.py)
    parser.add_argument("--seed", type=int, default=29, help=argparse.SUPPRESS)  # the child's articles (bench/ingest_growth.py: one per round)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.library, args.child == "on", args.real, args.warm, args.seed)))
        return
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    for i in range(args.pairs):
        for mode, flag in zip(MODES, ("off", "on"), strict=True):
            runs[mode].append(child_json([__file__, str(args.library), "--child", flag, *(["--real"] if args.real else [])]))
            r = runs[mode][-1]
            print(f"  pair {i + 1} load {mode}: {r['total']:.2f} s (write {r['write']:.2f})", file=sys.stderr, flush=True)
    rows = []
    for key, label in [("write", "the write step"), ("embed", "embedding"), ("rest", "the rest (duplicate check, chunking, keyword index)"),
                       ("total", "the whole ingest")]:
        before, now = ([r[key] for r in runs[m]] for m in MODES)
        diffs = [b - a for a, b in zip(before, now, strict=True)]
        rows.append([label, f"{statistics.median(before):.2f} ({min(before):.2f}–{max(before):.2f})",
                     f"{statistics.median(now):.2f} ({min(now):.2f}–{max(now):.2f})", f"{statistics.median(diffs):+.2f}",
                     f"{sum(d < 0 for d in diffs)}/{len(diffs)}"])
    chunks = runs[MODES[0]][0]["chunks"]
    print_table(f"{args.library.name}: a fresh process's first ingest of {chunks:.0f} chunks, {args.pairs} pairs, seconds",
                ["step", "index load at the write: median (range)", "load beside the work", "median of the pairs' differences",
                 "pairs faster beside"], rows)


if __name__ == "__main__":
    main()
