"""How much the language model reads: for each way of cutting the excerpts, how often they hold a gold answer, in how many tokens.

    .venv/bin/python bench/context_recall.py [--n 200] [--seed 0]

The questions of bench/generative_eval.py (the sample article's answerable ones, and `--n` SQuAD v1.1 dev
questions over all 2,067 passages, seed `--seed`) are asked with k = 5. For each question the excerpts
the model would be shown (`retrieval/answer/passages.py`) are cut every way in CONFIGS: the best-scored
sentences (so many, or so many for a list question) and so many neighbours on each side of each one
(for other questions, and for list questions).
Printed per way: how often the excerpts contain a gold answer (the most a model reading them can get
right), and the prompt's new part in the default model's tokens (the passages and the question, what
llama.cpp reads anew for every question: its time to the first token grows with it). No text is generated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (first: it puts the checkout on sys.path)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from generative_eval import MODELS, SAMPLE_QUESTIONS, SQUAD, contains, pick_questions

from retrieval.answer import generative, passages, prompts
from retrieval.answer.context import AnswerContext
from retrieval.answer.extractive import compose
from retrieval.answer.scoring import candidates, is_list_question, score_sentences
from retrieval.embedding import load_embedder
from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.types import Answer

# (best sentences, best sentences for a list question, neighbours on each side, neighbours for a list question)
CONFIGS = [(6, 10, 1, 1), (6, 10, 0, 1), (6, 10, 0, 0), (4, 8, 1, 1), (4, 8, 0, 0), (3, 6, 1, 1), (3, 6, 0, 0), (2, 5, 0, 0)]
SETTINGS = ("TOP_SENTENCES", "TOP_LIST_SENTENCES", "NEIGHBOURS", "LIST_NEIGHBOURS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="SQuAD questions (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from llama_cpp import Llama

    from retrieval.llm import gguf

    vocab = Llama(model_path=str(gguf.assemble(gguf.PACKAGED[gguf.DEFAULT_MODEL], MODELS)), vocab_only=True, verbose=False)
    shown: dict[tuple[int, ...], tuple[str, int]] = {}

    def record(ctx: AnswerContext, settings: Settings, **_: Any) -> Answer:
        """Stands in for the generator: cuts the excerpts every way, then answers extractively (nothing generated)."""
        scored = score_sentences(ctx, candidates(list(ctx.hits)))
        listing = is_list_question(ctx.scored_text)
        kept = [getattr(passages, name) for name in SETTINGS]
        try:
            for config in CONFIGS:
                for name, value in zip(SETTINGS, config, strict=True):
                    setattr(passages, name, value)
                cut = passages.passages(list(ctx.hits), scored, listing)
                new_part = str(prompts.messages(ctx.scored_text, cut, listing)[-1].content)
                shown[config] = (" ".join(p.text for p in cut), len(vocab.tokenize(new_part.encode(), add_bos=False)))
        finally:
            for name, value in zip(SETTINGS, kept, strict=True):
                setattr(passages, name, value)
        return compose(ctx, scored=scored)

    generative.generate = record  # type: ignore[assignment]
    embedder = load_embedder(None, "onnx-int8", MODELS)
    answerable, _ = pick_questions(args.n, 0, args.seed)
    rows: dict[str, dict[tuple[int, ...], list[tuple[bool, int]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "squad", model_cache_dir=MODELS, llm_gate=0.0)  # type: ignore[call-arg]
        squad = Library(settings, embedder=embedder)
        squad.ingest([SQUAD / "passages.jsonl"])
        sample = Library(settings.model_copy(update={"data_dir": Path(tmp) / "sample"}), embedder=embedder)
        sample.ingest_sample()
        for name, lib, items in (("sample", sample, [(q, g) for q, g in SAMPLE_QUESTIONS if g]),
                                 ("squad", squad, [(r["question"], r["answers"]) for r in answerable])):
            rows[name] = {c: [] for c in CONFIGS}
            for question, gold in items:
                lib.ask(question, k=5, generator="llamacpp")
                for config, (text, count) in shown.items():
                    rows[name][config].append((contains(text, gold), count))
    shipped = tuple(getattr(passages, name) for name in SETTINGS)
    print("| set | best sentences (list questions) | neighbours (list questions) | a gold answer in the excerpts | new prompt tokens p50 / p90 |")
    print("|---|---|---|---|---|")
    for name, by_config in rows.items():
        for (top, listed, neighbours, list_neighbours), got in by_config.items():
            tokens = sorted(t for _, t in got)
            held = sum(ok for ok, _ in got)
            mark = " (shipped)" if (top, listed, neighbours, list_neighbours) == shipped else ""
            print(f"| {name} | {top} ({listed}) | {neighbours} ({list_neighbours}){mark} | {held / len(got):.0%} ({held}/{len(got)}) | "
                  f"{statistics.median(tokens):.0f} / {tokens[int(0.9 * (len(tokens) - 1))]} |")


if __name__ == "__main__":
    main()
