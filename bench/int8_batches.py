"""How much int8 vectors depend on batch composition: dense hit@5 on SQuAD per batch size.

    .venv/bin/python bench/int8_batches.py                      # all 2,067 passages, 2,000 questions
    .venv/bin/python bench/int8_batches.py --batch-sizes 1,8 --json bench/results/int8_batches.json

ragbot's own loader, chunker and embedder make every SQuAD chunk's vector (title header included),
all chunks length-sorted at once, at each batch size; then each question is embedded alone and the
chunks are ranked by exact cosine (numpy, no index), so the figures differ only by how the chunks
were grouped into batches. fp32 is the reference (its vectors do not depend on the batch). Also
printed: each int8 batch size's cosine to the batch-1 vectors, and the encode time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import MODELS, SQUAD, chunk_texts, machine, markdown_table, print_table, squad_questions, write_json

from retrieval.embedding import load_embedder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-sizes", default="1,2,4,8")
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--json", help="write results to this file")
    args = ap.parse_args()
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    info = machine()
    chunks = chunk_texts(SQUAD / "passages.jsonl")
    owner, texts = [doc_id for doc_id, _ in chunks], [text for _, text in chunks]
    qs = squad_questions(args.questions)
    gold = [str(q["gold_passage_id"]) for q in qs]

    def score(backend: str, size: int) -> tuple[dict[str, float], np.ndarray]:
        emb = load_embedder(None, backend, MODELS, batch_size=size)
        t0 = time.perf_counter()
        chunks = emb._embed(texts)  # type: ignore[attr-defined]
        seconds = time.perf_counter() - t0
        questions = np.stack([emb._embed([q["question"]])[0] for q in qs])  # type: ignore[attr-defined]
        top = np.argsort(-(questions @ chunks.T), axis=1)[:, :5]
        hit1 = np.mean([owner[t[0]] == g for t, g in zip(top, gold, strict=True)])
        hit5 = np.mean([g in {owner[i] for i in t} for t, g in zip(top, gold, strict=True)])
        return {"hit@1": float(hit1), "hit@5": float(hit5), "encode_s": seconds}, chunks

    results: dict[str, dict[str, float]] = {}
    ref, _ = score("onnx", 8)
    results["onnx (fp32), batch 8"] = ref
    first: np.ndarray | None = None
    for size in sizes:
        r, vecs = score("onnx-int8", size)
        if first is None:
            first = vecs
        cos = np.sum(vecs * first, axis=1)
        r["cos_to_first_mean"], r["cos_to_first_min"] = float(cos.mean()), float(cos.min())
        results[f"onnx-int8, batch {size}"] = r
        print(f"  int8 batch {size} done", flush=True)
    columns = ["vectors", "dense hit@1", "dense hit@5", "hit@5 − fp32 (points)", f"cosine to batch {sizes[0]} (mean / min)", "encode s"]
    rows = []
    for name, r in results.items():
        cos = f"{r['cos_to_first_mean']:.5f} / {r['cos_to_first_min']:.5f}" if "cos_to_first_mean" in r else "-"
        rows.append([name, f"{r['hit@1']:.4f}", f"{r['hit@5']:.4f}", f"{(r['hit@5'] - ref['hit@5']) * 100:+.2f}", cos, f"{r['encode_s']:.1f}"])
    notes = [f"{len(texts)} chunks, {len(qs)} questions; exact cosine ranking; load average at start {info['load_avg_at_start']}."]
    print_table("int8 vectors and batch composition (SQuAD v1.1 dev)", columns, rows, notes)
    print(markdown_table(columns, rows))
    write_json(args.json, {"benchmark": "int8_batches", "machine": info, "results": results, "columns": columns, "rows": rows})


if __name__ == "__main__":
    main()
