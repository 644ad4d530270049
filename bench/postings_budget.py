"""How often the keyword search's postings budget leaves a term out, on real question sets.

The keyword index matches a question's rarest terms while their document frequencies add up
to at most `POSTINGS_BUDGET` (`retrieval/store/keyword_index.py`). This ingests a JSONL corpus
(the vendored SQuAD v1.1 dev passages by default) with the cheap hashing embedder of
`bench/scale.py`, since only the keyword index matters here, then reports per question set how
many questions match fewer terms under the budget than without it, and the largest postings
total a question's terms reach.

    python bench/postings_budget.py
    python bench/postings_budget.py --budget 5000 --questions data/squad-v1.1-dev/questions.jsonl

`--timing DIR` instead times warm searches over a library that `bench/scale.py --work W` left in
`W/lib-SIZE`, with the budget and without it (and any `--compare` budgets), interleaved in one
process so that load from other work hits them alike:

    python bench/postings_budget.py --timing W/lib-100000 --compare 20000 5000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import scale
from _common import ROOT, SQUAD  # first: it puts the checkout on sys.path

from retrieval.store.keyword_index import POSTINGS_BUDGET
from retrieval.terms import terms


def timing(data_dir: Path, budgets: list[int], rounds: int) -> None:
    """Median warm search and keyword-only latency per budget, the budgets taking turns question by question."""
    lib = scale._library(data_dir, False)
    qs = scale.questions(60, scale.article_count(int(data_dir.name.split("-")[-1])))  # as run_size made it
    lib.search(qs[0])
    index = lib.collection().index
    assert index is not None
    took: dict[int, tuple[list[float], list[float]]] = {b: ([], []) for b in budgets}
    for _ in range(rounds):
        for q in qs:
            for b in budgets:
                index.budget = b  # the budget the library's searches use
                t = time.perf_counter()
                lib.search(q)
                took[b][0].append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                index.search(terms(q), 50)
                took[b][1].append((time.perf_counter() - t) * 1000)
    print(f"{data_dir.name}: {len(index):,} chunks, {len(qs)} questions x {rounds}\n")
    print("| budget (postings) | search p50 ms | search p95 ms | keyword part p50 ms |")
    print("|---|---|---|---|")
    for b in budgets:
        s, k = took[b]
        label = "none" if b >= 10**12 else f"{b:,}"
        print(f"| {label} | {statistics.median(s):.1f} | {sorted(s)[int(0.95 * (len(s) - 1))]:.1f} | {statistics.median(k):.1f} |")
    lib.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SQUAD / "passages.jsonl")
    parser.add_argument("--questions", type=Path, nargs="+",
                        default=[SQUAD / "questions.jsonl", ROOT / "bench" / "data" / "squad-low-overlap.jsonl"])
    parser.add_argument("--budget", type=int, default=POSTINGS_BUDGET)
    parser.add_argument("--timing", type=Path, help="a library dir made by bench/scale.py --work: time searches instead")
    parser.add_argument("--compare", type=int, nargs="*", default=[], help="more budgets to time beside the default and none")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.timing:
        timing(args.timing, [10**12, args.budget, *args.compare], args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        lib = scale._library(Path(tmp), False)  # the cheap hashing embedder: only the keyword index matters
        lib.ingest([args.corpus], duplicates="keep")
        index = lib.collection().index
        assert index is not None
        print(f"{args.corpus.name}: {len(index):,} chunks; budget {args.budget:,} postings\n")
        print("| questions | asked | a term left out by the budget | largest postings total of a question's terms |")
        print("|---|---|---|---|")
        for path in args.questions:
            asked = cut = 0
            largest = 0
            for line in path.read_text().splitlines():
                question = json.loads(line)["question"]
                query = terms(question)
                unbounded = index.matched_terms(query, budget=10**12)
                asked += 1
                cut += index.matched_terms(query, budget=args.budget) != unbounded
                largest = max(largest, sum(index.doc_frequency(t) for t in set(unbounded)))
            print(f"| {path.name} | {asked:,} | {cut:,} | {largest:,} |")
        lib.close()


if __name__ == "__main__":
    main()
