"""Generative answers, measured: the sample article's questions and SQuAD v1.1 dev through the verifier.

    .venv/bin/python bench/generative_eval.py                 # llamacpp + bundled SmolLM2-135M, 200 SQuAD questions
    .venv/bin/python bench/generative_eval.py --generator openai --n 50   # uses RAGBOT_OPENAI_BASE_URL
    .venv/bin/python bench/generative_eval.py --calibrate     # the support-threshold calibration table
    .venv/bin/python bench/generative_eval.py --calibrate --backend onnx   # ... with fp32 vectors

Prints, per question set: share of generated sentences kept, share of answers that fell back to
the extractive composer, citation precision after verification (a cited quote contains a gold
answer), answer containment (the answer text contains a gold answer), and seconds per answer.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from retrieval.answer.verify import PassageSentences, is_cannot_answer, missing_facts, parse
from retrieval.embedding import Embedder, load_embedder
from retrieval.library import Library
from retrieval.loaders import SAMPLE_ARTICLE, SAMPLE_DOC_ID, load_file
from retrieval.settings import Settings
from retrieval.text import sentence_spans
from retrieval.types import Answer, Hit

SQUAD = ROOT / "data" / "squad-v1.1-dev"
MODELS = Path(os.environ.get("RAGBOT_TEST_MODELS", ROOT / ".ragbot-test-models"))

# The sample article's questions with their gold answers; an empty list means "not in the article".
SAMPLE_QUESTIONS: list[tuple[str, list[str]]] = [
    ("Who is Russia's defence minister?", ["Andrey Belousov", "Belousov"]),
    ("When did Belousov arrive in Beijing?", ["Monday"]),
    ("Who did Belousov meet on Tuesday?", ["Zhang Youxia"]),
    ("Who is China's defence minister?", ["Dong Jun"]),
    ("Which anniversary of diplomatic ties do China and Russia mark this year?", ["75th"]),
    ("What exercises were mentioned?", ["joint patrol", "joint drills"]),
    ("Where did Russia and China conduct joint drills last month?", ["Sea of Japan"]),
    ("What does China's six-point plan call for?", ["refrain from escalation", "negotiations"]),
    ("What policy has Beijing adhered to regarding the Ukraine conflict?", ["neutrality"]),
    ("Who described the naval exercise as the largest of its kind in decades?", ["Putin"]),
    ("Where did the border guards complete their first joint patrol?", ["North Pacific"]),
    ("What is the boiling point of mercury?", []),
    ("Who won the 2018 FIFA World Cup?", []),
]


def contains(text: str, answers: Iterable[str]) -> bool:
    """Whether the text contains one of the gold answers (case and spacing ignored)."""
    norm = " ".join(text.lower().split())
    return any(" ".join(a.lower().split()) in norm for a in answers)


@dataclass
class Tally:
    """Counts for one question set."""

    name: str
    questions: int = 0
    generated: int = 0
    kept: int = 0
    model_calls: int = 0
    fell_back: int = 0
    citations: int = 0
    precise: int = 0
    answerable: int = 0
    contained: int = 0
    abstained_right: int = 0
    unanswerable: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, answer: Answer, raw: str, gold: Sequence[str], seconds: float, generative: bool) -> None:
        """Count one answer; `raw` is the streamed draft (empty when no model was called)."""
        self.questions += 1
        self.seconds.append(seconds)
        if generative and (raw or answer.generator == "extractive-fallback" or answer.dropped):
            self.model_calls += 1
            claims = [d for d in parse(raw) if not is_cannot_answer(d.text)]
            self.generated += len(claims)
            if answer.generator != "extractive-fallback":
                self.kept += len(claims) - sum(1 for d in answer.dropped if d.get("markers") is not None and d["reason"] != "the model found no answer in the passages")
            else:
                self.fell_back += 1
        if gold:
            self.answerable += 1
            self.contained += contains(answer.text, gold)
            if not generative or answer.generator != "extractive-fallback":
                self.citations += len(answer.citations)
                self.precise += sum(contains(c.quote, gold) for c in answer.citations)
        else:
            self.unanswerable += 1
            self.abstained_right += not answer.answerable

    def row(self) -> list[str]:
        """The table row."""
        def pct(a: int, b: int) -> str:
            return f"{a / b:.0%} ({a}/{b})" if b else "–"

        mean = sum(self.seconds) / len(self.seconds) if self.seconds else 0.0
        return [self.name, str(self.questions), pct(self.kept, self.generated), pct(self.fell_back, self.model_calls),
                pct(self.precise, self.citations), pct(self.contained, self.answerable),
                pct(self.abstained_right, self.unanswerable), f"{mean:.2f}"]


HEADER = ["set", "questions", "sentences kept", "fell back", "citation precision", "containment", "abstained (unanswerable)", "s/answer"]


def run_set(lib: Library, name: str, items: Sequence[tuple[str, list[str]]], generator: str, k: int) -> Tally:
    """Ask every question and count."""
    tally = Tally(name)
    for question, gold in items:
        draft: list[str] = []
        t0 = time.perf_counter()
        answer = lib.ask(question, k=k, generator=generator, on_token=draft.append)
        tally.add(answer, "".join(draft), gold, time.perf_counter() - t0, generator != "extractive")
    return tally


def squad_items(n: int, seed: int = 0) -> list[tuple[str, list[str]]]:
    """n SQuAD v1.1 dev questions (fixed seed) with their gold answers."""
    rows = [json.loads(line) for line in (SQUAD / "questions.jsonl").open()]
    return [(r["question"], r["answers"]) for r in random.Random(seed).sample(rows, n)]


def print_table(rows: list[list[str]], header: list[str]) -> None:
    """A Markdown table."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def evaluate(args: argparse.Namespace) -> None:
    """The generative path (and the extractive composer for comparison) on both question sets."""
    embedder = load_embedder(None, args.backend, MODELS)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "sample", model_cache_dir=MODELS,  # type: ignore[call-arg]
                            generator=args.generator)
        sample = Library(settings, embedder=embedder)
        sample.ingest_loaded(load_file(SAMPLE_ARTICLE, settings.max_file_bytes, doc_id=SAMPLE_DOC_ID))
        squad = Library(settings.model_copy(update={"data_dir": Path(tmp) / "squad"}), embedder=embedder)
        t0 = time.perf_counter()
        squad.ingest([SQUAD / "passages.jsonl"])
        print(f"ingested SQuAD v1.1 dev in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        items = squad_items(args.n, args.seed)
        rows = []
        for gen in (args.generator, "extractive"):
            rows.append(run_set(sample, f"sample article, {gen}", SAMPLE_QUESTIONS, gen, args.k).row())
            rows.append(run_set(squad, f"SQuAD dev {args.n} (seed {args.seed}), {gen}", items, gen, args.k).row())
            print(f"done: {gen}", file=sys.stderr)
    print(f"backend={args.backend} generator={args.generator} model={settings.llm_model or 'bundled SmolLM2-135M-Instruct Q4_1'} k={args.k} "
          f"threshold={settings.llm_support_threshold}")
    print_table(rows, HEADER)


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
    held_out = {q for q, _ in squad_items(args.n, args.seed)}  # never calibrate on the evaluation questions
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
    parser.add_argument("--generator", default=os.environ.get("RAGBOT_GENERATOR", "llamacpp"))
    parser.add_argument("--n", type=int, default=200, help="SQuAD questions (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--calibrate", action="store_true", help="print the support-threshold calibration instead")
    parser.add_argument("--calibration-n", type=int, default=500)
    parser.add_argument("--backend", default=Settings(_env_file=None).embed_backend,  # type: ignore[call-arg]
                        choices=["onnx", "onnx-int8", "torch"], help="embedding backend (default: ragbot's default)")
    args = parser.parse_args()
    if not SQUAD.exists():
        sys.exit(f"SQuAD v1.1 dev not found at {SQUAD}.")
    calibrate(args) if args.calibrate else evaluate(args)


if __name__ == "__main__":
    main()
