"""Make the abstention data: SQuAD v1.1 dev with whole articles held out of the library.

Questions about a held-out article have no answer in the library (`is_impossible: true`).
The held-out articles are split in two: the `fit` files calibrate the abstention rule,
the `check` files test it on articles (and questions) it was not fitted on.

    python bench/make_abstention_set.py --out bench/data
    ragbot eval bench/data/abstention-check.jsonl --corpus bench/data/abstention-corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / "data" / "squad-v1.1-dev"


def main() -> None:
    """Write abstention-corpus.jsonl, abstention-fit.jsonl and abstention-check.jsonl."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path("bench/data"))
    parser.add_argument("--held-out", type=int, default=12, help="articles kept out of the library")
    parser.add_argument("--per-set", type=int, default=300, help="answerable and impossible questions per file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    passages = [json.loads(line) for line in (args.squad / "passages.jsonl").open()]
    questions = [json.loads(line) for line in (args.squad / "questions.jsonl").open()]
    titles = sorted({p["title"] for p in passages})
    held = rng.sample(titles, args.held_out)
    fit_titles, check_titles = set(held[: len(held) // 2]), set(held[len(held) // 2 :])
    title_of = {p["id"]: p["title"] for p in passages}

    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "abstention-corpus.jsonl").open("w") as f:
        for p in passages:
            if p["title"] not in fit_titles | check_titles:
                f.write(json.dumps(p) + "\n")

    kept = [q for q in questions if title_of[q["gold_passage_id"]] not in fit_titles | check_titles]
    rng.shuffle(kept)
    for name, titles_out, answerable in (
        ("fit", fit_titles, kept[: args.per_set]),
        ("check", check_titles, kept[args.per_set : 2 * args.per_set]),
    ):
        impossible = [q for q in questions if title_of[q["gold_passage_id"]] in titles_out]
        impossible = rng.sample(impossible, min(args.per_set, len(impossible)))
        rows = [dict(q, is_impossible=False) for q in answerable] + [
            {"id": q["id"], "question": q["question"], "answers": [], "gold_passage_id": None, "is_impossible": True}
            for q in impossible
        ]
        rng.shuffle(rows)
        with (args.out / f"abstention-{name}.jsonl").open("w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        print(f"abstention-{name}.jsonl: {len(answerable)} answerable, {len(impossible)} impossible ({sorted(titles_out)})")


if __name__ == "__main__":
    main()
