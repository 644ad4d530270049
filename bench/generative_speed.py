"""Speed and memory of generated answers over the SQuAD library: warm, first token, cold, bot peak RSS.

    .venv/bin/python bench/generative_speed.py [--questions 20] [--model qwen2.5-coder-1.5b] [--data-dir DIR]

- warm: one process, the model loaded and warmed (`Library.warm`), k = 5; per question the seconds
  to the answer and to the first streamed token (answers the cheap gate refuses make no model call
  and are left out), p50 and p95;
- cold: `ragbot ask QUESTION --json` in a fresh process, against the model's own load time in a
  fresh process (`Llama(model_path)` alone) plus 1.3x the warm p50; it loads the evaluated prompt
  prefix the warm process saved, and one more run first finds none (a first run after install);
- bot: peak RSS of one process holding the bot (`create_bot`, `setup_hook`: the engine and the model
  warmed) after it answered the questions.
The extractive composer's warm figures on the same questions are printed beside, as the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from _common import PY, ROOT, median, percentile, run_measured, squad_questions
from questions import library_dir


def warm(data_dir: str, questions: list[str], generator: str, model: str) -> dict[str, list[float]]:
    """Per-question seconds to the answer and to the first token, in one warmed process."""
    from retrieval.library import Library
    from retrieval.settings import Settings

    lib = Library(Settings(data_dir=data_dir, generator=generator, llm_model=model))  # type: ignore[call-arg]
    lib.warm()
    out: dict[str, list[float]] = {"total": [], "first": [], "gated": [], "stopped": []}
    for q in questions:
        _timed_ask(lib, q, generator, out)
    return out


def _timed_ask(lib: Any, question: str, generator: str, out: dict[str, list[float]]) -> None:
    """Ask once; add the seconds to the answer and to the first token to `out` (or count why nothing was generated)."""
    stamp: list[float] = []
    t0 = time.perf_counter()
    answer = lib.ask(question, on_token=lambda _t: stamp.append(time.perf_counter() - t0) if not stamp else None)
    if generator != "extractive" and not stamp:  # nothing generated: the gate, or the refusal threshold at the first step
        out["gated" if answer.refusal is None else "stopped"].append(1.0)
        return
    out["total"].append(time.perf_counter() - t0)
    if stamp:
        out["first"].append(stamp[0])


def warm_against(data_dir: str, questions: list[str], model: str, neighbours: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Generated answers as shipped and with `neighbours` sentences of context around each chosen one, in one warmed
    process, question by question in alternating order."""
    from retrieval.answer import passages
    from retrieval.library import Library
    from retrieval.settings import Settings

    lib = Library(Settings(data_dir=data_dir, generator="llamacpp", llm_model=model))  # type: ignore[call-arg]
    lib.warm()
    shipped = passages.NEIGHBOURS
    runs: dict[int, dict[str, list[float]]] = {n: {"total": [], "first": [], "gated": [], "stopped": []} for n in (shipped, neighbours)}
    try:
        for i, q in enumerate(questions):
            for n in (shipped, neighbours) if i % 2 == 0 else (neighbours, shipped):
                passages.NEIGHBOURS = n
                _timed_ask(lib, q, "llamacpp", runs[n])
    finally:
        passages.NEIGHBOURS = shipped
    return runs[shipped], runs[neighbours]


def llama_states(data_dir: str) -> Path:
    """Where `ragbot ask` finds the evaluated prompt prefix a process saved (llama.cpp state files)."""
    from retrieval.settings import Settings

    return Settings(data_dir=data_dir).models_dir / "llama-state"  # type: ignore[call-arg]


def bot_peak(data_dir: str, questions: list[str], model: str) -> float:
    """Peak RSS (MB) of a child process running the bot's engine path over the questions."""
    code = f"""
import asyncio, json, resource, sys
from bot.discord.client import create_bot
from bot.discord.settings import DiscordSettings
from retrieval import Library
s = DiscordSettings(data_dir={data_dir!r}, llm_model={model!r}, shared_library=True, cooldown_seconds=0)
async def main():
    bot = create_bot(s, Library(s), sync_commands=False)
    await bot.setup_hook()
    for q in json.loads(sys.argv[1]):
        await bot.asker.answer(q, s.collection)
asyncio.run(main())
"""
    run = run_measured([PY, "-c", code, json.dumps(questions)], env={"PYTHONPATH": str(ROOT)})
    if run.returncode:
        raise SystemExit(f"bot run failed: {run.stderr[-2000:]}")
    return run.peak_mb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="an existing data dir holding the SQuAD library (default: build one)")
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--against-neighbours", type=int, metavar="N",
                    help="also time, in one process and alternating, answers whose excerpts keep N sentences around each chosen one")
    args = ap.parse_args()
    data_dir, tmp = library_dir(args.data_dir, 0, "generative")
    os.environ["RAGBOT_DATA_DIR"] = str(data_dir)
    try:
        questions = [q["question"] for q in squad_questions(args.questions, seed=7)]
        base = warm(str(data_dir), questions, "extractive", args.model)
        gen = warm(str(data_dir), questions, "llamacpp", args.model)
        pair = warm_against(str(data_dir), questions, args.model, args.against_neighbours) if args.against_neighbours is not None else None
        load = run_measured([PY, "-c", (f"from retrieval.llm import gguf_path; "
                                        f"from retrieval.settings import Settings; p = gguf_path(Settings(llm_model={args.model!r})); "
                                        "from llama_cpp import Llama; Llama(model_path=str(p), n_ctx=4096, verbose=False)")],
                            env={"PYTHONPATH": str(ROOT)})
        ask = [PY, "-m", "bot.cli", "ask", "--json"]
        # The warm process saved the evaluated prompt prefix: first a process that finds none.
        shutil.rmtree(llama_states(str(data_dir)), ignore_errors=True)
        unsaved = run_measured([*ask, questions[0]], env={"RAGBOT_LLM_MODEL": args.model}, cwd=ROOT)
        cold = [run_measured([*ask, q], env={"RAGBOT_LLM_MODEL": args.model}, cwd=ROOT) for q in questions[:3]]
        peak = bot_peak(str(data_dir), questions[:5], args.model)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    p50 = median(gen["total"])
    print(f"model={args.model} questions={len(questions)} (seed 7), k=5, answered by the model: {len(gen['total'])} "
          f"(the gate refused {len(gen['gated'])}, the refusal threshold stopped {len(gen['stopped'])} at the first step)\n")
    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| warm answer, extractive, p50 / p95 | {median(base['total']):.3f} / {percentile(base['total'], 95):.3f} s | (baseline) |")
    print(f"| warm answer, generated, p50 / p95 | {p50:.2f} / {percentile(gen['total'], 95):.2f} s | p50 ≤ 3 s |")
    print(f"| warm first token, p50 / p95 | {median(gen['first']):.2f} / {percentile(gen['first'], 95):.2f} s | p50 ≤ 1.5 s |")
    print(f"| model load alone, fresh process | {load.seconds:.2f} s | |")
    cold_s = median([c.seconds for c in cold])
    print(f"| cold `ragbot ask`, median of {len(cold)} | {cold_s:.2f} s (peak {median([c.peak_mb for c in cold]):.0f} MB) | "
          f"≤ load + 1.3 × warm = {load.seconds + 1.3 * p50:.2f} s |")
    print(f"| cold `ragbot ask`, no saved prompt prefix (a first run) | {unsaved.seconds:.2f} s | |")
    print(f"| bot peak RSS with the model | {peak:.0f} MB | < 2,500 MB |")
    if pair:
        from retrieval.answer.passages import NEIGHBOURS

        print(f"\nThe same questions in one more warmed process, each asked with the excerpts as shipped (NEIGHBOURS = {NEIGHBOURS}) "
              f"and with NEIGHBOURS = {args.against_neighbours}, in alternating order:\n")
        print(f"| measure | as shipped | NEIGHBOURS = {args.against_neighbours} | shipped / other |")
        print("|---|---|---|---|")
        for key, label in (("total", "warm answer, p50"), ("first", "warm first token, p50")):
            a, b = median(pair[0][key]), median(pair[1][key])
            print(f"| {label} | {a:.2f} s | {b:.2f} s | {a / b:.2f} |")


if __name__ == "__main__":
    main()
