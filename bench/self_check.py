"""Does the answer model know when it is wrong? Signals that might tell a near miss it answered from a right answer.

    .venv/bin/python bench/self_check.py --n 60 --near 60 --dump /tmp/self_check.jsonl
    .venv/bin/python bench/self_check.py --report /tmp/self_check.jsonl

Every question (SQuAD v1.1 dev answerable ones and near misses, as `bench/generative_eval.py` picks
them, seed 0) is asked of the default model with the gate at `--gate` and no refusal threshold. For
each reply the model wrote, this records, at no extra cost, the probability of the token it chose
at each step (`steps`), and then, at the cost of a one-token completion each (the prompt and the
reply stay in llama.cpp's cache), the model's P(yes) / (P(yes) + P(no)) for follow-up questions
(`CHECKS`) put after its own reply. The report gives, for each signal, how many of the near misses
the model answered it would abstain on at the threshold that costs at most 5 or 10 % more of the
answerable questions (fitted on the first half of the articles, reported on the second), and what
each check costs in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import ROOT  # first: it puts the checkout on sys.path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from generative_eval import SQUAD, contains, half, pick_questions

from retrieval.answer import generative
from retrieval.embedding import load_embedder
from retrieval.library import Library
from retrieval.llm import llamacpp
from retrieval.settings import Settings
from retrieval.types import CANNOT_ANSWER, Document

MODELS = Path(os.environ.get("RAGBOT_TEST_MODELS", ROOT / ".ragbot-test-models"))
CHECKS = {
    "given": "Do the passages above state the answer to my question? Reply with only yes or no.",
    "cited": "Is every sentence of your answer stated in the passage it cites? Reply with only yes or no.",
    "exact": "Does your answer give exactly what my question asks for, and not something else the passages say? "
             "Reply with only yes or no.",
}


class Steps:
    """A logits processor that records the probability of the most likely token at every step (greedy decoding)."""

    def __init__(self) -> None:
        self.top: list[float] = []

    def __call__(self, input_ids: Any, logits: Any) -> Any:
        import numpy as np

        shifted = np.exp(logits - logits.max())
        self.top.append(float(1.0 / shifted.sum()))
        return logits


class YesNo:
    """A logits processor reading P(yes) / (P(yes) + P(no)) at the first step."""

    def __init__(self, llama: Any) -> None:
        def ids(words: Sequence[str]) -> list[int]:
            return sorted({llama.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words})

        self.yes, self.no = ids(["yes", "Yes", " yes", " Yes"]), ids(["no", "No", " no", " No"])
        self.p: float | None = None

    def __call__(self, input_ids: Any, logits: Any) -> Any:
        import numpy as np

        if self.p is None:
            shifted = np.exp(logits - logits.max())
            yes, no = float(shifted[self.yes].sum()), float(shifted[self.no].sum())
            self.p = yes / (yes + no) if yes + no > 0 else 0.5
        return logits


def probe(n: int, near: int, gate: float, dump: Path) -> None:
    """Ask every question and record the signals (one JSON line per question, appended as it goes)."""
    import llama_cpp
    from llama_cpp import LogitsProcessorList

    answerable, misses = pick_questions(200, 100, 0)
    answerable, misses = answerable[:n], misses[:near]
    held = {r["gold_passage_id"] for r in misses}
    passages = [json.loads(line) for line in (SQUAD / "passages.jsonl").open()]
    title_of = {p["id"]: p["title"] for p in passages}
    embedder = load_embedder(None, "onnx-int8", MODELS)
    seen: dict[str, Any] = {}
    real = generative.stream_reply
    steps_box: list[Steps] = []

    def spy(chat: Any, messages: Any, settings: Any, generator: str, on_token: Callable[[str], None] | None = None
            ) -> tuple[str, dict[str, Any]]:
        steps = Steps()
        steps_box[:] = [steps]
        original = llama_cpp.LogitsProcessorList  # the model's own first-step watch runs beside ours

        def with_steps(processors: list[Any]) -> Any:
            return original([*processors, steps])

        llama_cpp.LogitsProcessorList = with_steps
        try:
            raw, meta = real(chat, messages, settings, generator, on_token)
        finally:
            llama_cpp.LogitsProcessorList = original
        seen.update(chat=chat, messages=messages, raw=raw)
        return raw, meta

    generative.stream_reply = spy  # type: ignore[assignment]
    dump.write_text("")
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(_env_file=None, data_dir=Path(tmp) / "squad", model_cache_dir=MODELS,  # type: ignore[call-arg]
                        embed_backend="onnx-int8", llm_gate=gate, llm_refuse_at=1.0)
        squad = Library(base, embedder=embedder)
        squad.ingest([SQUAD / "passages.jsonl"])
        nearlib = Library(base.model_copy(update={"data_dir": Path(tmp) / "near"}), embedder=embedder)
        nearlib.ingest_documents([Document(doc_id=p["id"], source=p["id"], title=p["title"], text=p["text"])
                                  for p in passages if p["id"] not in held])
        plan = [("squad", squad, r, r["answers"]) for r in answerable] + [("near", nearlib, r, []) for r in misses]
        for i, (name, lib, row, gold) in enumerate(plan, 1):
            seen.clear()
            t0 = time.perf_counter()
            answer = lib.ask(row["question"], k=5, generator="llamacpp")
            out: dict[str, Any] = {"set": name, "half": half(title_of[row["gold_passage_id"]]), "question": row["question"],
                                   "gold": gold, "ask_s": time.perf_counter() - t0, "answerable": answer.answerable,
                                   "answer": answer.text, "confidence": answer.confidence, "refusal": answer.refusal,
                                   "right": contains(answer.text, gold) if gold else None}
            raw = seen.get("raw", "")
            out["raw"] = raw
            if raw and CANNOT_ANSWER.lower() not in raw.lower():
                out["steps"] = steps_box[0].top if steps_box else []
                chat = seen["chat"]
                llama = chat._model()
                for check, prompt in CHECKS.items():
                    payload = [*llamacpp._payload(seen["messages"]), {"role": "assistant", "content": raw},
                               {"role": "user", "content": prompt}]
                    reader = YesNo(llama)
                    t1 = time.perf_counter()
                    with llamacpp._lock:
                        llama.create_chat_completion(messages=payload, max_tokens=1, temperature=0.0,
                                                     logits_processor=LogitsProcessorList([reader]))
                    out[check] = reader.p
                    out[f"{check}_s"] = time.perf_counter() - t1
            with dump.open("a") as f:
                f.write(json.dumps(out, ensure_ascii=False) + "\n")
            if i % 10 == 0:
                print(f"{i}/{len(plan)}", file=sys.stderr, flush=True)


def signals(row: dict) -> dict[str, float]:
    """Each signal as a score where higher means "more likely right" (only for rows the model answered)."""
    out = {check: row[check] for check in CHECKS if row.get(check) is not None}
    steps = row.get("steps") or []
    if steps:
        out["min step p"] = min(steps)
        out["mean step p"] = statistics.fmean(steps)
    if row.get("refusal") is not None:
        out["1 - refusal p"] = 1.0 - row["refusal"]
    if row.get("confidence") is not None:
        out["retrieval confidence (the gate's)"] = row["confidence"]
    return out


def auc(higher: Sequence[float], lower: Sequence[float]) -> float:
    """The chance that a score from `higher` beats one from `lower` (ties count half): 0.5 is no signal."""
    if not higher or not lower:
        return float("nan")
    wins = sum((h > lo) + 0.5 * (h == lo) for h in higher for lo in lower)
    return wins / (len(higher) * len(lower))


def report(dump: Path) -> None:
    """For each signal: how well it separates, and the near misses it would stop for 5 or 10 % of answerable (fitted on half 0)."""
    rows = [json.loads(line) for line in dump.open()]
    answered = [r for r in rows if r["answerable"]]
    print(f"{len(rows)} questions; answered: {sum(r['set'] == 'squad' for r in answered)}/{sum(r['set'] == 'squad' for r in rows)} "
          f"answerable, {sum(r['set'] == 'near' for r in answered)}/{sum(r['set'] == 'near' for r in rows)} near misses")
    names = sorted({s for r in answered for s in signals(r)})
    print("| signal | AUC, answerable over near misses (answered ones) | AUC, right answers over the rest |")
    print("|---|---|---|")
    for name in names:
        def of(keep: Callable[[dict], bool], name: str = name) -> list[float]:
            return [signals(r)[name] for r in answered if keep(r) and name in signals(r)]

        print(f"| {name} | {auc(of(lambda r: r['set'] == 'squad'), of(lambda r: r['set'] == 'near')):.2f} "
              f"| {auc(of(lambda r: bool(r['right'])), of(lambda r: not r['right'])):.2f} |")
    print()
    print("| signal | budget (answerable refused, more) | threshold (half 0) | near misses answered then stopped (half 1) "
          "| answerable stopped (half 1) | right answers stopped (half 1) |")
    print("|---|---|---|---|---|---|")
    for name in names:
        scored = [(signals(r).get(name), r) for r in answered]
        scored = [(s, r) for s, r in scored if s is not None]
        for budget in (0.05, 0.10):
            fit = [(s, r) for s, r in scored if r["half"] == 0]
            total = sum(1 for r in rows if r["set"] == "squad" and r["half"] == 0)
            threshold = 0.0
            for t in sorted({s for s, _ in fit}):
                stopped = sum(1 for s, r in fit if r["set"] == "squad" and s < t)
                if total and stopped / total <= budget:
                    threshold = t
            rep = [(s, r) for s, r in scored if r["half"] == 1]
            near = [s for s, r in rep if r["set"] == "near"]
            squad = [(s, r) for s, r in rep if r["set"] == "squad"]
            squad_total = sum(1 for r in rows if r["set"] == "squad" and r["half"] == 1)
            print(f"| {name} | {budget:.0%} | {threshold:.3f} | {sum(s < threshold for s in near)}/{len(near)} "
                  f"| {sum(s < threshold for s, _ in squad)}/{squad_total} "
                  f"| {sum(s < threshold for s, r in squad if r['right'])}/{sum(1 for _, r in squad if r['right'])} |")
    for check in CHECKS:
        times = [r[f"{check}_s"] for r in rows if r.get(f"{check}_s") is not None]
        if times:
            print(f"{check}: p50 {statistics.median(times):.2f} s per check over {len(times)} replies")
    asks = [r["ask_s"] for r in rows]
    print(f"ask: p50 {statistics.median(asks):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60, help="answerable SQuAD questions")
    parser.add_argument("--near", type=int, default=60, help="near misses")
    parser.add_argument("--gate", type=float, default=0.6, help="the cheap gate (the default model's)")
    parser.add_argument("--dump", type=Path, help="where to write one JSON line per question")
    parser.add_argument("--report", type=Path, help="report a dump instead of asking")
    args = parser.parse_args()
    if args.report:
        report(args.report)
        return
    if not args.dump:
        parser.error("--dump is needed to ask")
    probe(args.n, args.near, args.gate, args.dump)
    report(args.dump)


if __name__ == "__main__":
    main()
