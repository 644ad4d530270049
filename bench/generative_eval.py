"""Generative answers against the extractive composer: the same questions, one table, the issue's goals.

    .venv/bin/python bench/generative_eval.py                       # the default model, 200 SQuAD questions, 100 near misses
    .venv/bin/python bench/generative_eval.py --models qwen2.5-coder-1.5b,qwen2.5-coder-0.5b
    .venv/bin/python bench/generative_eval.py --n 40 --near 20 --dump /tmp/answers.jsonl   # smaller; every answer to a file
    .venv/bin/python bench/generative_eval.py --report /tmp/answers.jsonl --gate 0.6   # the table again, at another gate
    .venv/bin/python bench/generative_eval.py --report /tmp/answers.jsonl --gate 0.6 --refuse-at 1   # and no refusal threshold
    .venv/bin/python bench/generative_eval.py --calibrate           # the support-threshold calibration table

Question sets:
- the sample article's questions (the tests' questions), two of them with nothing to find;
- SQuAD v1.1 dev, `--n` questions (seed `--seed`) over all 2,067 passages;
- near misses: `--near` other SQuAD questions asked of a library that lacks their gold paragraph but keeps
  the rest of its article, so the passages look answerable and are not.

Every question is asked once per generator with the cheap gate at `--gate-floor` and no refusal
threshold (RAGBOT_LLM_REFUSE_AT=1), and its retrieval confidence and the model's probability of starting
the cannot-answer reply are kept, so both can be fitted afterwards without asking again: an answer whose
confidence is under a gate t, or whose refusal probability is at least r, is the cannot-answer reply
(ragbot then stops the model at its first step). Articles are split in two halves by a hash of their
title; on the first half the gate is fitted (the largest t refusing at most `--max-refused` of its
answerable questions beyond what the model itself refuses), then the refusal threshold (the smallest r
leaving at most `--refusal-budget` of them refused in all); both are reported on the second half.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from _common import ROOT  # first: it puts the checkout on sys.path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from retrieval.answer.verify import PassageSentences, missing_facts
from retrieval.embedding import Embedder, load_embedder
from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.text import sentence_spans
from retrieval.types import Answer, Document, Hit

SQUAD = ROOT / "data" / "squad-v1.1-dev"
MODELS = Path(os.environ.get("RAGBOT_TEST_MODELS", ROOT / ".ragbot-test-models"))

# The sample article's questions with their gold answers; an empty list means "not in the article".
SAMPLE_QUESTIONS: list[tuple[str, list[str]]] = [
    ("Who is Russia's defence minister?", ["Andrey Belousov", "Belousov"]),
    ("When did Belousov arrive in Beijing?", ["Monday"]),
    ("Who did Belousov meet on Tuesday?", ["Zhang Youxia"]),
    ("Who is China's defence minister?", ["Dong Jun"]),
    ("Which anniversary of diplomatic ties do China and Russia mark this year?", ["75th"]),
    ("What anniversary is coming up next year?", ["80th"]),
    ("What exercises were mentioned?", ["joint patrol", "joint drills"]),
    ("Who took the photo of the welcome ceremony?", ["Savitskii", "Sputnik"]),
    ("Where did Russia and China conduct joint drills last month?", ["Sea of Japan"]),
    ("What does China's six-point plan call for?", ["refrain from escalation", "negotiations"]),
    ("What policy has Beijing adhered to regarding the Ukraine conflict?", ["neutrality"]),
    ("Who described the naval exercise as the largest of its kind in decades?", ["Putin"]),
    ("Where did the border guards complete their first joint patrol?", ["North Pacific"]),
    ("How many ships took part in the naval exercise?", []),
    ("What is the boiling point of mercury?", []),
    ("Who won the 2018 FIFA World Cup?", []),
]
# Every one of these must be named for a list answer to count as right.
ALL_OF = {"What exercises were mentioned?": ["patrol", "drills"]}


def contains(text: str, answers: Iterable[str]) -> bool:
    """Whether the text contains one of the gold answers (case and spacing ignored)."""
    norm = " ".join(text.lower().split())
    return any(" ".join(a.lower().split()) in norm for a in answers)


@dataclass
class Asked:
    """One question asked of one generator, with what is needed to score it at any gate."""

    set: str
    half: int  # 0: the fitting half of the articles, 1: the reporting half
    question: str
    gold: list[str]
    answer: dict
    raw: str
    confidence: float
    seconds: float
    first_token: float | None
    # A near miss's own SQuAD answers, and whether one of them is in a retrieved passage all the same (another
    # paragraph of the library states it): then the question is not unanswerable from what the model was shown.
    held: list[str] = field(default_factory=list)
    held_shown: bool | None = None

    @property
    def answerable(self) -> bool:
        """Whether the library holds the answer."""
        return bool(self.gold)

    @property
    def refusal(self) -> float | None:
        """The model's probability of starting the cannot-answer reply at its first step (None: no model was asked)."""
        p = self.answer.get("refusal_probability")
        return None if p is None else float(p)

    def answered(self, gate: float, refuse_at: float = 1.0) -> bool:
        """Whether the user gets an answer with the gate at `gate` and the refusal threshold at `refuse_at`."""
        p = self.refusal
        return bool(self.answer["answerable"]) and self.confidence >= gate and (p is None or p < refuse_at)

    def right(self) -> bool:
        """Whether the answer text contains a gold answer (every item, for the list questions that say so)."""
        if self.question in ALL_OF:
            return all(w in self.answer["answer"].lower() for w in ALL_OF[self.question])
        return contains(self.answer["answer"], self.gold)


def half(title: str) -> int:
    """Which half of the articles a title falls in (stable across runs and machines)."""
    return hashlib.sha256(title.encode()).digest()[0] & 1


def squad_rows() -> list[dict]:
    """All SQuAD v1.1 dev questions."""
    return [json.loads(line) for line in (SQUAD / "questions.jsonl").open()]


def pick_questions(n: int, near: int, seed: int) -> tuple[list[dict], list[dict]]:
    """n answerable questions and `near` near-miss questions, their gold paragraphs disjoint."""
    rows = squad_rows()
    rng = random.Random(seed)
    answerable = rng.sample(rows, n)
    used = {r["gold_passage_id"] for r in answerable}
    rest = [r for r in rows if r["gold_passage_id"] not in used]
    rng2 = random.Random(seed + 1)
    misses: list[dict] = []
    held: set[str] = set()
    for r in rng2.sample(rest, len(rest)):
        if len(misses) >= near:
            break
        if r["gold_passage_id"] not in held:  # one question per held-out paragraph
            misses.append(r)
            held.add(r["gold_passage_id"])
    return answerable, misses


def ask_all(lib: Library, name: str, items: Sequence[tuple[str, list[str], int]], generator: str, k: int,
            key: str, dump: Path | None = None, held: dict[str, list[str]] | None = None) -> list[Asked]:
    """Ask every question; keep the answer, the streamed draft, the confidence and the times (each also to `dump`).

    `held`: the near misses' own answers by question, to note whether a retrieved passage states one all the same.
    """
    out = []
    for i, (question, gold, part) in enumerate(items, 1):
        draft: list[str] = []
        first: list[float] = []
        t0 = time.perf_counter()

        def on_token(token: str, t0: float = t0, first: list[float] = first, draft: list[str] = draft) -> None:
            if not first:
                first.append(time.perf_counter() - t0)
            draft.append(token)

        answer: Answer = lib.ask(question, k=k, generator=generator, on_token=on_token)
        seconds = time.perf_counter() - t0
        asked = Asked(name, part, question, gold, answer.to_json(), "".join(draft),
                      answer.confidence if answer.confidence is not None else 0.0, seconds, first[0] if first else None)
        if held and question in held:
            asked.held = held[question]
            asked.held_shown = any(contains(h.text, asked.held) for h in answer.hits)
        out.append(asked)
        if dump:
            with dump.open("a") as f:
                f.write(json.dumps({"generator": key, **asked.__dict__}, ensure_ascii=False) + "\n")
        if i % 25 == 0:
            print(f"  {name} {generator}: {i}/{len(items)}", file=sys.stderr, flush=True)
    return out


def fit_gate(asked: Sequence[Asked], max_refused: float, floor: float) -> float:
    """The largest gate whose extra refusals of answerable questions stay within `max_refused`."""
    answerable = [a for a in asked if a.answerable]
    best = floor
    for t in sorted({round(a.confidence, 4) for a in asked} | {floor}):
        if t < floor:
            continue
        extra = sum(1 for a in answerable if a.answered(floor) and not a.answered(t))
        if answerable and extra / len(answerable) <= max_refused:
            best = t
    return best


def fit_refusal(asked: Sequence[Asked], gate: float, budget: float) -> float:
    """The smallest refusal threshold leaving at most `budget` of the answerable questions refused (the gate's included)."""
    answerable = [a for a in asked if a.answerable]
    for r in sorted({round(a.refusal, 4) for a in asked if a.refusal is not None} | {1.0}):
        refused = sum(1 for a in answerable if not a.answered(gate, r))
        if not answerable or refused / len(answerable) <= budget:
            return r
    return 1.0


def pct(a: int, b: int) -> str:
    """A share with its counts."""
    return f"{a / b:.0%} ({a}/{b})" if b else "–"


def summary(rows: Sequence[Asked], gate: float, generative: bool, refuse_at: float = 1.0) -> dict[str, str]:
    """The table's figures for one generator on one set of questions."""
    answerable = [a for a in rows if a.answerable]
    unanswerable = [a for a in rows if not a.answerable]
    answered = [a for a in answerable if a.answered(gate, refuse_at)]
    generated = [a for a in answered if a.answer["generator"] not in ("extractive", "extractive-fallback")]
    cited = [c for a in (generated if generative else answered) for c in a.answer["citations"]]
    precise = sum(contains(c["quote"], a.gold) for a in (generated if generative else answered) for c in a.answer["citations"])
    sentences = [max(1, a.answer["answer"].count("] ") + 1) for a in answered]
    chars = [len(a.answer["answer"]) for a in answered]
    seconds = [a.seconds for a in rows if a.answered(gate, refuse_at) or a.raw]
    firsts = [a.first_token for a in rows if a.first_token is not None]
    return {
        "answered": pct(len(answered), len(answerable)),
        "generated (of answered)": pct(len(generated), len(answered)) if generative else "–",
        "right (containment)": pct(sum(a.right() for a in answerable if a.answered(gate, refuse_at)), len(answerable)),
        "citation precision": pct(precise, len(cited)),
        "refused (answerable)": pct(len(answerable) - len(answered), len(answerable)),
        "abstained (nothing to find)": pct(sum(not a.answered(gate, refuse_at) for a in unanswerable), len(unanswerable)),
        "median sentences / chars": f"{statistics.median(sentences):.0f} / {statistics.median(chars):.0f}" if answered else "–",
        "p50 s (first token)": (f"{statistics.median(seconds):.2f}" if seconds else "–")
        + (f" ({statistics.median(firsts):.2f})" if firsts else ""),
    }


def print_table(rows: list[list[str]], header: list[str]) -> None:
    """A Markdown table."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def evaluate(args: argparse.Namespace) -> None:
    """Every generator on every set; the fitted gate; one table."""
    embedder = load_embedder(None, args.backend, MODELS)
    answerable, misses = pick_questions(args.n, args.near, args.seed)
    held = {r["gold_passage_id"] for r in misses}
    passages = [json.loads(line) for line in (SQUAD / "passages.jsonl").open()]
    title_of = {p["id"]: p["title"] for p in passages}
    if args.dump:
        Path(args.dump).write_text("")
    generators = [("extractive", None)] + [("llamacpp", m) for m in args.models.split(",") if m]
    results: dict[str, list[Asked]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(_env_file=None, data_dir=Path(tmp) / "sample", model_cache_dir=MODELS,  # type: ignore[call-arg]
                        embed_backend=args.backend, llm_gate=args.gate_floor, llm_refuse_at=1.0)
        sample = Library(base, embedder=embedder)
        sample.ingest_sample()
        squad = Library(base.model_copy(update={"data_dir": Path(tmp) / "squad"}), embedder=embedder)
        near = Library(base.model_copy(update={"data_dir": Path(tmp) / "near"}), embedder=embedder)
        sets = []
        if "sample" in args.sets:
            sets.append(("sample", sample, [(q, g, 1) for q, g in SAMPLE_QUESTIONS]))
        if "squad" in args.sets:
            squad.ingest([SQUAD / "passages.jsonl"])
            sets.append(("squad", squad, [(r["question"], r["answers"], half(title_of[r["gold_passage_id"]])) for r in answerable]))
        if "near" in args.sets:
            docs = [Document(doc_id=p["id"], source=p["id"], title=p["title"], text=p["text"]) for p in passages if p["id"] not in held]
            near.ingest_documents(docs)
            sets.append(("near", near, [(r["question"], [], half(title_of[r["gold_passage_id"]])) for r in misses]))
        for generator, model in generators:
            key = generator if model is None else model
            results[key] = []
            for name, lib, items in sets:
                if model is not None:
                    lib = Library(lib.settings.model_copy(update={"llm_model": model}), embedder=embedder, client=lib.client)
                    lib.warm()
                results[key] += ask_all(lib, name, items, generator, args.k, key, Path(args.dump) if args.dump else None,
                                        held={r["question"]: r["answers"] for r in misses})
            print(f"done: {key}", file=sys.stderr, flush=True)
    report(results, args)


def report(results: dict[str, list[Asked]], args: argparse.Namespace) -> None:
    """The table: each model at its gate and refusal threshold fitted on half 0 (or at `--gate`, `--refuse-at`),
    reported on all and on half 1."""
    header = ["generator", "set", "gate", "refuse at", "answered", "generated (of answered)", "right (containment)", "citation precision",
              "refused (answerable)", "abstained (nothing to find)", "median sentences / chars", "p50 s (first token)"]
    table = []
    for key, rows in results.items():
        generative = key != "extractive"
        fit = [a for a in rows if a.set in ("squad", "near") and a.half == 0]
        if not generative:
            gate = 0.0
        elif args.gate is not None:
            gate = args.gate
        else:
            gate = fit_gate(fit, args.max_refused, args.gate_floor) if fit else args.gate_floor
        if not generative:
            refuse_at = 1.0
        elif args.refuse_at is not None:
            refuse_at = args.refuse_at
        else:
            refuse_at = fit_refusal(fit, gate, args.refusal_budget) if fit else 1.0
        for name in ("sample", "squad", "near"):
            part = [a for a in rows if a.set == name]
            if not part:
                continue
            halves = [(f"{name} (report half)", [a for a in part if a.half == 1])] if name != "sample" else []
            if name == "near" and any(a.held_shown is not None for a in part):
                # A near miss whose own answer a retrieved passage states all the same is scored as answerable from it.
                halves += [("near, own answer not in the passages", [a for a in part if a.held_shown is False]),
                           ("near, own answer in the passages", [replace(a, gold=a.held) for a in part if a.held_shown])]
            for label, chosen in [(name, part), *halves]:
                if chosen:
                    s = summary(chosen, gate, generative, refuse_at)
                    table.append([key, label, f"{gate:.2f}" if generative else "–", f"{refuse_at:.4g}" if generative else "–",
                                  *[s[h] for h in header[4:]]])
    chosen_gate = (f"gate {args.gate:.2f} for every model" if args.gate is not None else
                   f"gate fitted on half 0 (max {args.max_refused:.0%} more answerable refused)")
    chosen_refusal = (f"refusal threshold {args.refuse_at:.4g}" if args.refuse_at is not None else
                      f"refusal threshold fitted on half 0 (max {args.refusal_budget:.0%} answerable refused in all)")
    print(f"backend={args.backend} k={args.k} n={args.n} near={args.near} seed={args.seed} {chosen_gate}, {chosen_refusal}, "
          "reported on all and on half 1")
    print_table(table, header)


def from_dump(path: Path) -> dict[str, list[Asked]]:
    """The answers a `--dump` file holds, by generator, as they were asked."""
    results: dict[str, list[Asked]] = {}
    for line in path.open():
        row = json.loads(line)
        key = row.pop("generator")
        results.setdefault(key, []).append(Asked(**row))
    return results


# -- calibration ---------------------------------------------------------------------------------


def _hit(pid: str, title: str, text: str) -> Hit:
    return Hit(chunk_id=pid, doc_id=pid, source=pid, title=title, text=text, start=0, end=len(text), ordinal=0, score=1.0, rank=1)


def _answer_clause(sentence: str, answer: str) -> str:
    """The words around the answer in its sentence: what a model that compresses would write."""
    at = sentence.lower().find(answer.lower())
    before = sentence[:at].split()[-6:]
    after = sentence[at + len(answer):].split()[:4]
    return " ".join(before + [answer] + after).strip(" ,;:")


def calibrate(args: argparse.Namespace) -> None:
    """Similarity of answer-like claims to the passage that holds their answer vs. to ones that do not."""
    embedder: Embedder = load_embedder(None, args.backend, MODELS)
    passages = {p["id"]: p for p in map(json.loads, (SQUAD / "passages.jsonl").open())}
    by_title: dict[str, list[str]] = {}
    for pid, p in passages.items():
        by_title.setdefault(p["title"], []).append(pid)
    rows = [json.loads(line) for line in (SQUAD / "questions.jsonl").open()]
    held_out = {r["question"] for r in pick_questions(args.n, 0, args.seed)[0]}  # never calibrate on the evaluation questions
    rng = random.Random(1)
    rng.shuffle(rows)
    by_passage: dict[str, list[dict]] = {}
    for r in rows:
        by_passage.setdefault(r["gold_passage_id"], []).append(r)
    pos: dict[str, list[float]] = {"statement": [], "clause": []}
    neg: dict[str, list[float]] = {"statement, other passage": [], "clause, other passage": [], "statement, wrong answer": []}
    facts_pass: dict[str, list[bool]] = {k: [] for k in [*pos, *neg]}
    used = 0
    for r in rows:
        if used >= args.calibration_n or r["question"] in held_out:
            continue
        p = passages[r["gold_passage_id"]]
        answer = r["answers"][0]
        sentences = [p["text"][a:b] for a, b in sentence_spans(p["text"])]
        gold_sentence = next((s for s in sentences if answer.lower() in s.lower()), None)
        siblings = [q for q in by_title[p["title"]] if q != p["id"] and not contains(passages[q]["text"], r["answers"])]
        wrong = [o["answers"][0] for o in by_passage[p["id"]] if not contains(o["answers"][0], r["answers"])
                 and not any(contains(a, [o["answers"][0]]) for a in r["answers"])]
        if gold_sentence is None or not siblings or not wrong:
            continue
        used += 1
        statement = f"{r['question'].rstrip('?').strip()}: {answer}."
        clause = _answer_clause(gold_sentence, answer) + "."
        wrong_statement = f"{r['question'].rstrip('?').strip()}: {rng.choice(wrong)}."
        gold_hit = _hit(p["id"], p["title"], p["text"])
        sib = passages[rng.choice(siblings)]
        other_hit = _hit(sib["id"], sib["title"], sib["text"])
        ps = PassageSentences([gold_hit, other_hit], embedder)
        cases = [("statement", statement, 0), ("clause", clause, 0), ("statement, other passage", statement, 1),
                 ("clause, other passage", clause, 1), ("statement, wrong answer", wrong_statement, 0)]
        vectors = embedder.embed([c[1] for c in cases])
        for (name, claim, index), vector in zip(cases, vectors, strict=True):
            _, sim = ps.best(index, vector)
            (pos if name in pos else neg)[name].append(sim)
            facts_pass[name].append(not missing_facts(claim, [gold_hit, other_hit][index]))
    import numpy as np

    print(f"backend={args.backend}: {used} SQuAD v1.1 dev questions (shuffled with seed 1, the {args.n} evaluation questions left out)\n")
    print("similarity of the claim to the best sentence (or clause) of the passage:\n")
    header = ["claim vs passage", "should be", "n", "p10", "median", "p90", "facts check passes"]
    table = []
    for name, sims in [*pos.items(), *neg.items()]:
        a = np.array(sims)
        table.append([name, "kept" if name in pos else "dropped", str(len(a)), f"{np.percentile(a, 10):.2f}",
                      f"{np.median(a):.2f}", f"{np.percentile(a, 90):.2f}", f"{np.mean(facts_pass[name]):.0%}"])
    print_table(table, header)
    all_pos = np.concatenate([np.array(v) for v in pos.values()])
    sem_neg = np.concatenate([np.array(neg[k]) for k in ("statement, other passage", "clause, other passage")])
    pos_facts = np.concatenate([np.array(facts_pass[k]) for k in pos])
    neg_facts = np.concatenate([np.array(facts_pass[k]) for k in ("statement, other passage", "clause, other passage")])
    print("\nthreshold sweep (other-passage negatives; 'verifier' = facts check and similarity together):\n")
    sweep = []
    best = best_verifier = (-1.0, 0.0)
    for t in np.arange(0.30, 0.81, 0.05):
        tpr, fpr = float(np.mean(all_pos >= t)), float(np.mean(sem_neg >= t))
        vtpr = float(np.mean((all_pos >= t) & pos_facts))
        vfpr = float(np.mean((sem_neg >= t) & neg_facts))
        wfpr = float(np.mean(np.array(neg["statement, wrong answer"]) >= t))
        sweep.append([f"{t:.2f}", f"{tpr:.0%}", f"{fpr:.0%}", f"{vtpr:.0%}", f"{vfpr:.0%}", f"{wfpr:.0%}"])
        if tpr - fpr > best[0] + 1e-9:
            best = (tpr - fpr, float(t))
        if vtpr - vfpr > best_verifier[0] + 1e-9:
            best_verifier = (vtpr - vfpr, float(t))
    print_table(sweep, ["threshold", "kept (similarity)", "other passage kept (similarity)", "kept (verifier)",
                        "other passage kept (verifier)", "wrong answer kept (similarity)"])
    print(f"\nbest similarity-only threshold (max kept - other-passage kept): {best[1]:.2f} (J = {best[0]:.2f})")
    print(f"best verifier threshold (max kept - other-passage kept, facts check included): {best_verifier[1]:.2f} "
          f"(J = {best_verifier[0]:.2f})")


def main() -> None:
    """Parse arguments and run the evaluation or the calibration."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="qwen2.5-coder-1.5b", help="comma-separated llamacpp models (packaged names or GGUF paths)")
    parser.add_argument("--n", type=int, default=200, help="SQuAD questions (default 200)")
    parser.add_argument("--near", type=int, default=100, help="near-miss questions (default 100)")
    parser.add_argument("--sets", default="sample,squad,near", help="which question sets (default: all three)")
    parser.add_argument("--gate-floor", type=float, default=0.3, help="the gate while asking; fitted ones are at least this")
    parser.add_argument("--max-refused", type=float, default=0.02, help="answerable questions the fitted gate may refuse")
    parser.add_argument("--refusal-budget", type=float, default=0.04,
                        help="answerable questions the fitted refusal threshold may leave refused in all (default 0.04; the goal is 5 %%)")
    parser.add_argument("--refuse-at", type=float, help="score every model at this refusal threshold instead of the fitted one")
    parser.add_argument("--dump", help="write every answer (JSON lines) to this file")
    parser.add_argument("--report", metavar="DUMP", help="print the table from a --dump file instead of asking again")
    parser.add_argument("--gate", type=float, help="score every model at this gate instead of the fitted one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--calibrate", action="store_true", help="print the support-threshold calibration instead")
    parser.add_argument("--calibration-n", type=int, default=500)
    parser.add_argument("--backend", default=Settings(_env_file=None).embed_backend,  # type: ignore[call-arg]
                        choices=["onnx", "onnx-int8", "torch"], help="embedding backend (default: ragbot's default)")
    args = parser.parse_args()
    if not SQUAD.exists():
        sys.exit(f"SQuAD v1.1 dev not found at {SQUAD}.")
    if args.gate is not None and args.gate < args.gate_floor:
        sys.exit(f"--gate {args.gate} is under --gate-floor {args.gate_floor}: questions under the floor were never asked of the model.")
    if args.refuse_at is not None and not 0 <= args.refuse_at <= 1:
        sys.exit(f"--refuse-at {args.refuse_at} is not a probability: give a number from 0 to 1.")
    if args.calibrate:
        calibrate(args)
    elif args.report:
        try:
            results = from_dump(Path(args.report))
        except (OSError, ValueError, TypeError) as e:
            sys.exit(f"{args.report} is not a --dump file this script can read: {e}")
        report(results, args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
