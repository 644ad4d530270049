"""Where a fresh process's first ingest into a large library spends the time that an ingest into a small one does not.

    python bench/ingest_steps.py W/lib-1000 W/lib-100000 [--rounds 3]

W is a `bench/scale.py --work W` folder (the small library built with the bundled model, the large one
with the cheap embedder). Each round runs two fresh child processes, each warmed as `ragbot bot`
starts (`Library.warm()`, before the clock) and then ingesting about 1,000 new chunks of scale.py's
generated articles with the bundled model: one into the small library (restored from a copy first,
so it stays at its size) and one into the large one (which grows by about 1,000 chunks a run). Each
round ingests articles of its own, the same into both (as `bench/ingest_growth.py` does).
Each child times the pipeline's steps and every Chroma call (by collection: chunks, registry, change
log) by wrapping them. The table gives each step's median seconds at both sizes and the difference
of the medians; "the whole ingest less embedding" is what the library's size can make grow.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import add_library_pair, child_json, print_table  # first: it puts the checkout on sys.path

# (owner module or class, attribute, label): the pipeline's steps, as the child wraps them
STEPS = (
    ("pipeline", "embed_in_slices", "embedding"),
    ("pipeline", "chunk_documents", "chunking"),
    ("pipeline", "signature", "signatures of the new documents"),
    ("DuplicateIndex", "prefetch", "duplicate check: candidates and their signatures"),
    ("DuplicateIndex", "best_match", "duplicate check: comparisons"),
    ("Collection", "document_meta", "registry read of the new documents"),
    ("Collection", "write_documents", "the write step (all of the rows below it)"),
    ("KeywordIndex", "replace", "  keyword index rows"),
    ("ChangeLog", "append", "  change log events"),
)
CHROMA_CALLS = ("upsert", "get", "delete", "modify")


def child(data_dir: Path, real: bool, seed: int) -> dict[str, float]:
    """One warmed ingest in this process: seconds per step and per Chroma call."""
    import scale
    from chromadb.api.models.Collection import Collection as ChromaCollection

    from retrieval.ingest import dedup, pipeline
    from retrieval.store import Collection
    from retrieval.store.changelog import ChangeLog
    from retrieval.store.keyword_index import KeywordIndex

    spent: dict[str, float] = collections.defaultdict(float)

    def timed(key: str, fn: Callable[..., Any], kind: Callable[[Any], str] | None = None) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key if kind is None else f"{kind(args[0])} {key}"] += time.perf_counter() - t
        return run

    owners = {"pipeline": pipeline, "DuplicateIndex": dedup.DuplicateIndex, "Collection": Collection, "KeywordIndex": KeywordIndex,
              "ChangeLog": ChangeLog}
    for owner, attr, label in STEPS:
        setattr(owners[owner], attr, timed(label, getattr(owners[owner], attr)))

    def kind(col: Any) -> str:
        return "  Chroma registry" if col.name.endswith("--docs") else "  Chroma change log" if col.name.endswith("--log") else "  Chroma chunks"

    for call in CHROMA_CALLS:
        setattr(ChromaCollection, call, timed(call, getattr(ChromaCollection, call), kind))
    lib = scale.real_model_library(data_dir, real)
    lib.warm()
    docs = list(scale.articles(scale.MARGINAL_ARTICLES, seed=seed, prefix=f"s{time.time_ns()}-"))
    spent.clear()
    t = time.perf_counter()
    report = lib.ingest_documents(docs, duplicates="keep")
    total = time.perf_counter() - t
    lib.close()
    return {**spent, "chunks": report.chunks, "the whole ingest": total, "the whole ingest less embedding": total - spent["embedding"]}


def run(library: Path, real: bool, seed: int) -> dict[str, float]:
    return child_json([__file__, str(library), str(library), "--child", "real" if real else "cheap", "--seed", str(seed)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_library_pair(parser, rounds=3)
    parser.add_argument("--child", choices=("real", "cheap"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.small, args.child == "real", args.seed)))
        return
    runs: dict[str, list[dict[str, float]]] = {"small": [], "large": []}
    with tempfile.TemporaryDirectory() as tmp:
        pristine = Path(tmp) / "pristine"
        shutil.copytree(args.small, pristine)
        try:
            for i in range(args.rounds):
                shutil.rmtree(args.small)
                shutil.copytree(pristine, args.small)
                runs["small"].append(run(args.small, True, args.seed + i))
                runs["large"].append(run(args.large, False, args.seed + i))
                print(f"  round {i + 1}: {runs['small'][-1]['the whole ingest']:.2f} s into {args.small.name}, "
                      f"{runs['large'][-1]['the whole ingest']:.2f} s into {args.large.name}", file=sys.stderr, flush=True)
        finally:
            shutil.rmtree(args.small)
            shutil.copytree(pristine, args.small)
    keys = [label for _, _, label in STEPS]
    keys += sorted({k for r in runs["small"] + runs["large"] for k in r if k.startswith("  Chroma")})
    keys += ["the whole ingest less embedding", "the whole ingest"]
    rows = []
    for key in keys:
        small, large = ([r.get(key, 0.0) for r in runs[s]] for s in ("small", "large"))
        rows.append([key, f"{statistics.median(small):.2f} ({min(small):.2f}–{max(small):.2f})",
                     f"{statistics.median(large):.2f} ({min(large):.2f}–{max(large):.2f})",
                     f"{statistics.median(large) - statistics.median(small):+.2f}"])
    chunks = runs["small"][0]["chunks"]
    print_table(f"a warmed fresh process's first ingest of {chunks:.0f} chunks, {args.rounds} rounds, seconds",
                ["step", f"{args.small.name}: median (range)", args.large.name, "difference of the medians"], rows)


if __name__ == "__main__":
    main()
