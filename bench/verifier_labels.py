"""How the verifier does on the default model's real SQuAD sentences, against labels made by reading them.

    .venv/bin/python bench/generative_eval.py --dump /tmp/answers.jsonl        # the model's answers
    .venv/bin/python bench/verifier_labels.py extract /tmp/answers.jsonl --out /tmp/to-label.jsonl
    # read each row, set "label" to "right" (true by the passages and answers the question) or "wrong"
    .venv/bin/python bench/verifier_labels.py report bench/data/verifier-labels.jsonl

`extract` writes one row per sentence the model wrote for a SQuAD question (its set, the question,
the gold answers, the sentence, the passage quotes it was kept with, or why it was dropped);
`report` counts, over the labelled rows, the right sentences the verifier dropped and the wrong
ones it kept, with each drop reason.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import _common  # noqa: F401  (first: it puts the checkout on sys.path)

from retrieval.answer.verify import is_cannot_answer, parse


def extract(dump: Path, out: Path, generator: str) -> int:
    """Rows to label: every sentence the model wrote for a SQuAD question, with the verifier's decision."""
    rows = []
    for line in dump.open():
        asked = json.loads(line)
        if asked["generator"] != generator or asked["set"] != "squad" or not asked["raw"]:
            continue
        answer = asked["answer"]
        dropped = {d["sentence"]: d["reason"] for d in answer.get("dropped", [])}
        for drafted in parse(asked["raw"]):
            if is_cannot_answer(drafted.text):
                continue
            reason = dropped.get(drafted.text)
            rows.append({
                "question": asked["question"], "gold": asked["gold"], "sentence": drafted.text,
                "verifier": "dropped" if reason else "kept", "reason": reason,
                "quotes": [c["quote"] for c in answer["citations"]] if not reason else [],
                "label": None,
            })
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)


def kind(reason: str) -> str:
    """A drop reason without its particulars: "passage [n] does not state …"."""
    reason = re.sub(r"\[\d+\](, \[\d+\])*", "[n]", reason)
    reason = re.sub(r"does not state .*", "does not state …", reason)
    return re.sub(r" \(best similarity .*?\)", "", reason)


def report(labels: Path) -> None:
    """The verifier's decisions against the labels."""
    rows = [json.loads(line) for line in labels.open() if line.strip()]
    rows = [r for r in rows if r.get("label") in ("right", "wrong")]
    table = Counter((r["label"], r["verifier"]) for r in rows)
    right = table["right", "kept"] + table["right", "dropped"]
    wrong = table["wrong", "kept"] + table["wrong", "dropped"]
    print(f"{len(rows)} labelled sentences ({len({r['question'] for r in rows})} questions): {right} right, {wrong} wrong\n")
    print("| label | kept | dropped |")
    print("|---|---|---|")
    print(f"| right | {table['right', 'kept']} | {table['right', 'dropped']} |")
    print(f"| wrong | {table['wrong', 'kept']} | {table['wrong', 'dropped']} |")
    if right:
        print(f"\nright sentences dropped: {table['right', 'dropped'] / right:.0%}", end="")
    if wrong:
        print(f"; wrong sentences kept: {table['wrong', 'kept'] / wrong:.0%}")
    reasons = Counter((r["label"], kind(r["reason"] or "")) for r in rows if r["verifier"] == "dropped")
    print("\n| label | drop reason | sentences |")
    print("|---|---|---|")
    for (label, reason), n in sorted(reasons.items(), key=lambda x: -x[1]):
        print(f"| {label} | {reason} | {n} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("extract")
    e.add_argument("dump", type=Path)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--generator", default="qwen2.5-coder-1.5b")
    r = sub.add_parser("report")
    r.add_argument("labels", type=Path)
    args = ap.parse_args()
    if args.command == "extract":
        print(f"{extract(args.dump, args.out, args.generator)} sentences written to {args.out}")
    else:
        report(args.labels)


if __name__ == "__main__":
    main()
