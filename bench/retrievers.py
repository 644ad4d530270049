"""Compare retrievers on one library: dense alone, BM25 alone, reciprocal-rank fusion, ragbot's fusion.

Scores every chunk for every question in memory (the library's own vectors and BM25 index),
so each ranking is exact; ragbot's fused ranking is `Library.search` itself.

    ragbot ingest data/squad-v1.1-dev/passages.jsonl       # into RAGBOT_DATA_DIR
    python bench/retrievers.py data/squad-v1.1-dev/questions.jsonl --limit 2000
    python bench/retrievers.py bench/data/squad-low-overlap.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from retrieval.evaluate import read_questions
from retrieval.library import Library
from retrieval.terms import terms


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(len(scores))[:, None], order] = np.arange(scores.shape[1])[None, :] + 1
    return ranks


def _figures(doc_ids: list[list[str]], gold: list[str]) -> dict[str, float]:
    first = [ids.index(g) + 1 if g in ids else None for ids, g in zip(doc_ids, gold, strict=True)]
    n = len(gold)
    return {
        "hit@1": sum(1 for r in first if r and r <= 1) / n,
        "hit@5": sum(1 for r in first if r and r <= 5) / n,
        "hit@10": sum(1 for r in first if r and r <= 10) / n,
        "mrr@10": sum(1 / r for r in first if r and r <= 10) / n,
    }


def main() -> None:
    """Print hit@1/5/10 and MRR@10 per retriever, optionally as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--collection")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    lib = Library()
    items = [q for q in read_questions(args.questions, args.limit, args.seed) if q.gold_passage_id]
    col = lib.collection(args.collection, create=False)
    got = col.chunks.get(include=["embeddings", "metadatas"])
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    chunk_doc = np.array([m["doc_id"] for m in got["metadatas"]])
    lib._searcher(args.collection).sync()
    index = col.index
    assert index is not None
    position = {c: n for n, c in enumerate(got["ids"])}

    def bm25_scores(question: str) -> np.ndarray:
        """BM25 (the keyword index's FTS5 ranking) of every chunk, in the order of `vectors` (0: no match)."""
        out = np.zeros(len(position))
        for cid, score in index.search(terms(question), 1000):
            if cid in position:
                out[position[cid]] = score
        return out

    questions = [q.question for q in items]
    dense = lib.embedder.embed(questions) @ vectors.T  # one batch: see query_vectors below
    bm25 = np.stack([bm25_scores(q) for q in questions])
    rrf = 1 / (60 + _ranks(dense)) + 1 / (60 + _ranks(bm25))
    gold = [q.gold_passage_id or "" for q in items]

    def top(scores: np.ndarray) -> list[list[str]]:
        return [list(chunk_doc[np.argsort(-row, kind="stable")[:10]]) for row in scores]

    # The same question vectors for every retriever: int8 vectors depend slightly on batch
    # composition, which alone moves hit@5 by about a point on the dense-favouring set.
    query_vectors = lib.embedder.embed(questions)
    fused = [[h.doc_id for h in lib.search(q, k=10, collection=args.collection, vector=v)] for q, v in zip(questions, query_vectors, strict=True)]
    table = {
        "dense (cosine)": _figures(top(dense), gold),
        "BM25": _figures(top(bm25), gold),
        "reciprocal-rank fusion (k=60)": _figures(top(rrf), gold),
        "ragbot (adaptive score fusion)": _figures(fused, gold),
    }
    print(f"{len(items)} questions from {args.questions}, {len(vectors)} chunks, embedder {lib.embedder.identity}")
    print("| retriever | hit@1 | hit@5 | hit@10 | MRR@10 |\n|---|---|---|---|---|")
    for name, f in table.items():
        print(f"| {name} | {f['hit@1']:.3f} | {f['hit@5']:.3f} | {f['hit@10']:.3f} | {f['mrr@10']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
