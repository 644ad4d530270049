"""Default-backend decision: SQuAD retrieval quality of ONNX int8 against ONNX fp32 on the same questions.

    .venv/bin/python bench/quality.py --keep /tmp/squad-libs          # all 2,067 passages, 2,000 questions
    .venv/bin/python bench/quality.py --passages 500 --questions 300  # quicker, less certain

For each backend a library of the SQuAD v1.1 dev passages is ingested with `ragbot ingest`
(kept with --keep and reused when present), then every question is embedded alone (as the
question path does) and scored:
  * dense hit@k:  the gold passage among the k nearest chunks of one Chroma query;
  * fused hit@k:  the gold passage among `Library.search`'s k hits (dense + BM25 fusion).
The issue's rule: int8 becomes the default only if both are within 0.5 points of fp32.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _common import MODELS, PY, ROOT, machine, markdown_table, print_table, squad_passages, squad_questions, write_json


def ensure_library(data_dir: Path, backend: str, jsonl: Path, n_passages: int) -> float | None:
    """Ingest the passages with this backend unless the library already holds them; the ingest's seconds."""
    env = {**os.environ, "RAGBOT_DATA_DIR": str(data_dir), "RAGBOT_EMBED_BACKEND": backend, "RAGBOT_MODEL_CACHE_DIR": str(MODELS)}
    r = subprocess.run([PY, "-m", "bot.cli", "sources", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if r.returncode == 0 and len(json.loads(r.stdout or "[]")) == n_passages:
        return None
    r = subprocess.run([PY, "-m", "bot.cli", "ingest", str(jsonl), "--json"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if r.returncode:
        raise SystemExit(f"ingest with {backend} failed: {r.stderr[-2000:]}")
    return float(json.loads(r.stdout.strip().splitlines()[-1])["seconds"])


def evaluate(data_dir: Path, backend: str, questions: list[dict], k: int) -> dict[str, float]:
    from retrieval.library import Library
    from retrieval.settings import Settings

    lib = Library(Settings(_env_file=None, data_dir=data_dir, embed_backend=backend, model_cache_dir=MODELS))  # type: ignore[call-arg]
    col = lib.collection()
    searcher = lib._searcher(None)
    hits = {"dense@1": 0, f"dense@{k}": 0, "fused@1": 0, f"fused@{k}": 0}
    t0 = time.perf_counter()
    for q in questions:
        gold = str(q["gold_passage_id"])
        vec = lib.embedder.embed([q["question"]])[0]
        dense = [m["doc_id"] for _, _, m, _ in col.query(vec, k)]
        fused = [h.doc_id for h in searcher.search(q["question"], k, vector=vec)]
        hits["dense@1"] += dense[:1] == [gold]
        hits[f"dense@{k}"] += gold in dense
        hits["fused@1"] += fused[:1] == [gold]
        hits[f"fused@{k}"] += gold in fused
    out = {name: v / len(questions) for name, v in hits.items()}
    out["seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=0, help="first N passages; 0 = all 2,067")
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--keep", help="folder to keep (and reuse) the libraries in")
    ap.add_argument("--json", help="write results to this file")
    args = ap.parse_args()
    info = machine()
    from retrieval.embedding import export_onnx

    export_onnx(None, MODELS, quantize=True)
    passages = squad_passages(args.passages or None)
    ids = {str(p["id"]) for p in passages}
    questions = squad_questions(args.questions, passage_ids=ids)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ragbot-bench-quality-"))
    root.mkdir(parents=True, exist_ok=True)
    jsonl = root / f"passages-{len(passages)}.jsonl"
    jsonl.write_text("".join(json.dumps(p) + "\n" for p in passages))
    results = {}
    try:
        for backend in ("onnx", "onnx-int8"):
            data_dir = root / f"{backend}-{len(passages)}"
            ingest_s = ensure_library(data_dir, backend, jsonl, len(passages))
            print(f"{backend}: library in {data_dir}" + (f" (ingested in {ingest_s:.0f} s)" if ingest_s else " (reused)"), flush=True)
            results[backend] = evaluate(data_dir, backend, questions, args.k)
            results[backend]["ingest_s"] = ingest_s or float("nan")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    metrics = ["dense@1", f"dense@{args.k}", "fused@1", f"fused@{args.k}"]
    columns = ["backend", *[f"hit {m}" for m in metrics], "s / question"]
    rows = [[b, *[f"{r[m]:.3f}" for m in metrics], f"{r['seconds'] / len(questions) * 1000:.0f} ms"] for b, r in results.items()]
    delta = {m: (results["onnx-int8"][m] - results["onnx"][m]) * 100 for m in metrics}
    rows.append(["int8 − fp32 (points)", *[f"{delta[m]:+.1f}" for m in metrics], ""])
    holds = abs(delta[f"dense@{args.k}"]) <= 0.5 and abs(delta[f"fused@{args.k}"]) <= 0.5
    verdict = (f"int8 holds quality (dense and fused hit@{args.k} within 0.5 points): default onnx-int8" if holds
               else f"int8 does not hold quality (dense and fused hit@{args.k} within 0.5 points): default onnx (fp32)")
    print_table(f"SQuAD v1.1 dev retrieval, {len(questions)} questions over {len(passages)} passages", columns, rows, [verdict])
    print(markdown_table(columns, rows))
    write_json(args.json, {"benchmark": "quality", "machine": info, "questions": len(questions), "passages": len(passages),
                           "results": results, "delta_points": delta, "int8_holds": holds, "columns": columns, "rows": rows})


if __name__ == "__main__":
    main()
