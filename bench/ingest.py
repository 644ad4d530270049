"""Benchmark 1 — ingest: `ragbot ingest` of SQuAD passages against the bare runtime encoding the same chunk texts.

    .venv/bin/python bench/ingest.py                          # 500 passages, onnx + onnx-int8 + torch, 2 repeats
    .venv/bin/python bench/ingest.py --passages 0 --backends onnx --repeats 1 --json bench/results/ingest.json

For each backend and repeat, in the same run and interleaved (so machine load hits both):
  * bare:   a fresh process loads the runtime, then encodes exactly the chunk texts ragbot
            embeds (title header included), sorted by length, batch 32 (`bench/bare.py encode`;
            for torch that is `SentenceTransformer.encode`). Its encode time excludes the load.
  * ragbot: `ragbot ingest FILE --json` in a fresh process and data dir. "ingest" is the time
            ragbot itself reports (open the store, load the model, load, chunk, embed, write);
            "process" adds interpreter start and imports.
Bare runs twice, each as one session with the runtime's default options (spinning threads), on
the same model file ragbot runs (the fused export; bare int8 is its quantized copy): at batch 32
(the issue's reference set-up) and at ragbot's own batch size for that backend ("same batch":
RAGBOT_EMBED_BATCH_SIZE, default 8 for onnx and torch, since smaller length-sorted batches encode
faster on 2 cores, and 1 for onnx-int8, whose vectors otherwise depend on what shares their batch),
laid out as ragbot lays them out: batches of one or two run side by side, one per core, on
single-threaded calls (`bench/bare.py encode --workers`). ragbot's ingest session uses the same
options. Ratios are ragbot over bare (goal: ingest ≤ 1.15× bare encode). Throughput is passages/s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from _common import (
    MODELS,
    PY,
    ROOT,
    chunk_texts,
    machine,
    markdown_table,
    median,
    print_table,
    ratio,
    run_measured,
    spread,
    squad_passages,
    write_json,
)

REFERENCE_BATCH = 32  # sentence-transformers' default, and the batch of the issue's reference figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=500, help="first N SQuAD dev passages; 0 = all 2,067")
    ap.add_argument("--backends", default="onnx,onnx-int8,torch")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", help="write results to this file")
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    info = machine()
    from retrieval.embedding import bulk_workers, default_batch_size, export_onnx
    from retrieval.settings import Settings

    configured = Settings(_env_file=None).embed_batch_size  # type: ignore[call-arg]

    def ragbot_batch(backend: str) -> int:
        return configured or default_batch_size(backend)

    def ragbot_workers(backend: str) -> int:  # batches side by side (ONNX, batches of one or two)
        return 1 if backend == "torch" else bulk_workers(ragbot_batch(backend))

    model_dir = export_onnx(None, MODELS, quantize="onnx-int8" in backends)
    passages = squad_passages(args.passages or None)
    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-ingest-"))
    try:
        jsonl = work / "passages.jsonl"
        jsonl.write_text("".join(json.dumps(p) + "\n" for p in passages))
        texts = [text for _, text in chunk_texts(jsonl)]
        (work / "texts.jsonl").write_text("".join(json.dumps(t) + "\n" for t in texts))
        print(f"{len(passages)} passages -> {len(texts)} chunks; backends {backends}; {args.repeats} repeat(s)\n")

        keys = ["bare_encode", "bare_process", "bare_cpu", "bare_peak_mb", "same_encode", "same_process", "same_cpu", "ingest", "process", "cpu", "peak_mb"]
        raw: dict[str, dict[str, list[float]]] = {b: {k: [] for k in keys} for b in backends}
        for rep in range(args.repeats):
            for b in backends:
                order = ("bare", "same", "ragbot") if rep % 2 == 0 else ("ragbot", "same", "bare")
                for what in order:
                    if what in ("bare", "same"):
                        size = REFERENCE_BATCH if what == "bare" else ragbot_batch(b)
                        workers = 1 if what == "bare" else ragbot_workers(b)
                        r = run_measured([PY, str(ROOT / "bench" / "bare.py"), "encode", "--backend", b, "--model-dir", str(model_dir),
                                          "--texts", str(work / "texts.jsonl"), "--batch-size", str(size), "--workers", str(workers)])
                        if r.returncode:
                            raise SystemExit(f"bare {b} failed: {r.stderr[-2000:]}")
                        out = json.loads(r.stdout.strip().splitlines()[-1])
                        raw[b][f"{what}_encode"].append(out["load_s"] + out["encode_s"])
                        raw[b][f"{what}_process"].append(r.seconds)
                        raw[b][f"{what}_cpu"].append(r.cpu_seconds)
                        if what == "bare":
                            raw[b]["bare_peak_mb"].append(r.peak_mb)
                    else:
                        data = work / f"data-{b}-{rep}"
                        env = {"RAGBOT_DATA_DIR": str(data), "RAGBOT_MODEL_CACHE_DIR": str(MODELS), "RAGBOT_EMBED_BACKEND": b}
                        r = run_measured([PY, "-m", "bot.cli", "ingest", str(jsonl), "--json"], env=env, cwd=ROOT)
                        if r.returncode:
                            raise SystemExit(f"ragbot ingest ({b}) failed: {r.stderr[-2000:]}")
                        rep_json = json.loads(r.stdout.strip().splitlines()[-1])
                        raw[b]["ingest"].append(rep_json["seconds"])
                        raw[b]["process"].append(r.seconds)
                        raw[b]["cpu"].append(r.cpu_seconds)
                        raw[b]["peak_mb"].append(r.peak_mb)
                        shutil.rmtree(data, ignore_errors=True)
                    print(f"  repeat {rep + 1} {b:9} {what:6} done", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(passages)
    b32, bs, tb = f"b{REFERENCE_BATCH}", "same batch", f"b{ragbot_batch('torch')}"
    columns = ["backend", "ragbot batch", f"bare {b32} s", f"bare {bs} s", "ragbot ingest s", f"ingest / bare {b32}", f"ingest / bare {bs}",
               f"CPU s / bare {bs}", "ragbot passages/s", f"vs torch {b32}", f"vs torch {tb}", "peak MB ragbot / bare"]
    rows = []
    torch_bare = median(raw["torch"]["bare_encode"]) if "torch" in raw else None
    torch_same = median(raw["torch"]["same_encode"]) if "torch" in raw else None
    for b in backends:
        d = raw[b]
        be, same, ing = median(d["bare_encode"]), median(d["same_encode"]), median(d["ingest"])
        rows.append([
            b, str(ragbot_batch(b)) + (f" ×{ragbot_workers(b)}" if ragbot_workers(b) > 1 else ""), f"{be:.1f} ({spread(d['bare_encode'])})", f"{same:.1f} ({spread(d['same_encode'])})", f"{ing:.1f} ({spread(d['ingest'])})",
            ratio(ing, be), ratio(ing, same), ratio(median(d["cpu"]), median(d["same_cpu"])),
            f"{n / ing:.1f}", ratio(torch_bare, ing) if torch_bare else "-", ratio(torch_same, ing) if torch_same else "-",
            f"{median(d['peak_mb']):.0f} / {median(d['bare_peak_mb']):.0f}",
        ])
    notes = [
        f"{n} passages, {len(texts)} chunks; medians of {args.repeats} interleaved repeat(s), (min–max) in brackets.",
        f"bare {b32}: the bare runtime at batch {REFERENCE_BATCH} (the issue's reference set-up); bare {bs}: at ragbot's own batch size",
        "for the backend (column 'ragbot batch'; '×2': that many batches side by side, one thread each): same runtime, model",
        "file, texts, batches, threads and session options as ragbot's ingest; CPU s shows ragbot's own extra work.",
        "'vs torch' = ragbot ingest throughput over bare SentenceTransformer.encode throughput (goal ≥ 1.5× fp32, ≥ 2.4× int8).",
        "CPU s compares whole processes (interpreter, imports, model load included); CPU time is the",
        "steadier figure when other work shares the cores.",
        f"load average at start {info['load_avg_at_start']}.",
    ]
    title = "Ingest: ragbot vs the bare runtime on the same chunk texts"
    print_table(title, columns, rows, notes)
    print(markdown_table(columns, rows))
    write_json(args.json, {"benchmark": "ingest", "machine": info, "passages": n, "chunks": len(texts), "raw": raw,
                           "columns": columns, "rows": rows})


if __name__ == "__main__":
    main()
