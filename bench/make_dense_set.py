"""Make the dense-favouring question set: SQuAD v1.1 dev questions that share few words with their passage.

A question whose content terms mostly do not occur in its gold passage (nor its title) can
only be found by meaning: BM25 is weak there and dense retrieval strong, the opposite of
SQuAD as a whole. Keeping both sets in the eval routine shows when fusion is tuned to one.

    python bench/make_dense_set.py            # writes bench/data/squad-low-overlap.jsonl
    ragbot eval bench/data/squad-low-overlap.jsonl --corpus data/squad-v1.1-dev/passages.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from retrieval.terms import question_terms, terms

SHARED = Path(__file__).resolve().parents[1] / "data" / "squad-v1.1-dev"


def overlap(question: str, passage: dict) -> float:
    """Share of the question's content terms found in the passage text or title."""
    q = set(question_terms(question))
    p = set(terms(passage["text"] + " " + passage["title"].replace("_", " ")))
    return len(q & p) / max(1, len(q))


def main() -> None:
    """Write the questions whose overlap with their gold passage is at most --max-overlap."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "squad-low-overlap.jsonl")
    parser.add_argument("--max-overlap", type=float, default=0.4)
    args = parser.parse_args()
    passages = {p["id"]: p for p in map(json.loads, (args.squad / "passages.jsonl").open())}
    kept = [q for q in map(json.loads, (args.squad / "questions.jsonl").open()) if overlap(q["question"], passages[q["gold_passage_id"]]) <= args.max_overlap]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as f:
        for q in kept:
            f.write(json.dumps(q) + "\n")
    print(f"{len(kept)} questions -> {args.out}")


if __name__ == "__main__":
    main()
