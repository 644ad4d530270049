"""Load benchmark through the bot layer: 20 users, 200 questions, a 10,000-chunk library; then 5,000 in a row.

The real bot (`create_bot`), cogs, admission gate, engine and Chroma run; only Discord's servers are
faked (`tests.support.fakes.fake_interaction`, strict autospec). The library is SQuAD v1.1 dev chunked
finely enough to hold 10,000+ chunks; questions are SQuAD questions. Prints answered/lost counts,
p50/p95 latency, peak resident memory, and the memory growth over 5,000 consecutive questions.

    .venv/bin/python bench/load.py [--embedder onnx|hashing] [--users 20] [--questions 200] [--row 5000]

The library (11,371 chunks at --chunk-tokens 40) is built in a child process with the default
backend (onnx-int8): about 40 s on two idle cores. `--embedder hashing` swaps the sentence embedder
for a bag-of-words stand-in (tests/support/helpers.py) for machines where that is too slow; the real
model's per-question cost (one short text through ONNX) is then printed separately.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT  # first: it puts the checkout on sys.path

from bot.discord.client import create_bot
from bot.discord.scope import collection_for
from bot.discord.settings import DiscordSettings
from retrieval.embedding import load_embedder
from retrieval.library import Library
from retrieval.types import CANNOT_ANSWER
from tests.support.fakes import fake_interaction

SQUAD = ROOT / "data" / "squad-v1.1-dev"
GUILD = 1


def rss_mb() -> float:
    """Current resident memory of this process, in MB (from /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered)) - 1)]


async def ask_once(cog: Any, question: str, user: int) -> tuple[float, str]:
    """One /ask through the cog with a fake interaction: (seconds, "cited" | "cannot" | "refused: ...")."""
    interaction = fake_interaction(guild_id=GUILD, user_id=user)
    t0 = time.perf_counter()
    await cog.ask.callback(cog, interaction, question, False)
    elapsed = time.perf_counter() - t0
    sent = interaction.followup.send.call_args
    content = sent.kwargs.get("content", "") if sent else ""
    if not sent or sent.kwargs.get("ephemeral") is not False:
        return elapsed, f"refused: {content or interaction.response.send_message.call_args}"
    return elapsed, "cannot" if content == CANNOT_ANSWER else "cited"


def make_embedder(settings: DiscordSettings, kind: str) -> tuple[Any, Any]:
    """(the real ONNX embedder, the one the library uses): the same, or the bag-of-words stand-in."""
    real = load_embedder(None, settings.embed_backend, settings.models_dir)
    if kind == "hashing":
        from tests.support.helpers import HashingEmbedder

        return real, HashingEmbedder(real.tokenizer)
    return real, real


def build_library(settings: DiscordSettings, embedder_kind: str, collection: str) -> int:
    """Ingest SQuAD's passages into `collection` (run in a child process); returns the documents added."""
    _, embedder = make_embedder(settings, embedder_kind)
    report = Library(settings, embedder=embedder).ingest([SQUAD / "passages.jsonl"], collection=collection)
    return len(report.added)


async def run(args: argparse.Namespace) -> int:
    defaults = DiscordSettings(_env_file=None)  # type: ignore[call-arg]
    rows = [json.loads(line) for line in (SQUAD / "questions.jsonl").open()]
    questions = [r["question"] for r in random.Random(0).sample(rows, args.questions + args.row)]
    with tempfile.TemporaryDirectory() as data:
        settings = defaults.model_copy(
            update={
                "data_dir": Path(data),
                "model_cache_dir": (ROOT / ".ragbot-test-models") if (ROOT / ".ragbot-test-models").exists() else defaults.models_dir.resolve(),
                "chunk_tokens": args.chunk_tokens,
                "chunk_overlap_tokens": args.chunk_tokens // 4,
                "cooldown_seconds": 0.0,  # simulated users ask again as soon as they are answered
            }
        )
        # The library is built in a child process, so the peak memory printed below is the bot's
        # while answering over the loaded library, not the embedding runtime's during ingest.
        t0 = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            added = pool.apply(build_library, (settings, args.embedder, collection_for(settings, GUILD)))
        real, embedder = make_embedder(settings, args.embedder)
        library = Library(settings, embedder=embedder)
        bot = create_bot(settings, library, sync_commands=False)
        await bot.setup_hook()
        chunks = library.collection(bot.collection(GUILD)).count()
        print(f"library: {added} documents, {chunks:,} chunks, built in {time.perf_counter() - t0:.0f} s "
              f"({args.embedder} embedder, backend {settings.embed_backend}, in a child process)")
        await asyncio.to_thread(library.warm, bot.collection(GUILD))
        await asyncio.to_thread(library.ask, "warm up the keyword snapshot", None, bot.collection(GUILD))
        print(f"RSS with the bot started and the library loaded: {rss_mb():.0f} MB")
        cog = bot.get_cog("Ask")
        assert cog is not None, "the Ask cog is not loaded"

        # 1. users x questions, all at once (each user asks their next question when answered).
        per_user = args.questions // args.users
        results: list[tuple[float, str]] = []

        async def user(u: int) -> None:
            for i in range(per_user):
                results.append(await ask_once(cog, questions[u * per_user + i], 20_000 + u))

        gc.collect()
        t0 = time.perf_counter()
        await asyncio.gather(*(user(u) for u in range(args.users)))
        wall = time.perf_counter() - t0
        lat = [r[0] for r in results]
        answered = sum(not r[1].startswith("refused") for r in results)
        cited = sum(r[1] == "cited" for r in results)
        print(f"\n{args.users} concurrent users x {per_user} questions = {len(results)} (slots {settings.max_concurrent_questions}, queue {settings.max_queued_questions})")
        print(f"answered {answered}/{len(results)} ({cited} cited, {answered - cited} cannot-answer); lost {args.users * per_user - len(results)}")
        print(f"latency p50 {statistics.median(lat) * 1000:.0f} ms, p95 {percentile(lat, 0.95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms; wall {wall:.1f} s")
        print(f"peak RSS {peak_rss_mb():.0f} MB")
        for r in results:
            if r[1].startswith("refused"):
                print("  ", r[1][:200])

        # 2. questions in a row: resident memory after a warm-up vs at the end.
        row_q = questions[args.questions :]
        warm = min(200, len(row_q) // 10)
        lat2: list[float] = []
        refused = 0
        base = 0.0
        t0 = time.perf_counter()
        for i, q in enumerate(row_q):
            if i == warm:
                gc.collect()
                base = rss_mb()
            elapsed, outcome = await ask_once(cog, q, 30_000 + i % 50)
            lat2.append(elapsed)
            refused += outcome.startswith("refused")
            if args.progress and i and i % 1000 == 0:
                print(f"  {i} questions, RSS {rss_mb():.0f} MB", flush=True)
        gc.collect()
        end = rss_mb()
        growth = (end - base) / base * 100 if base else 0.0
        print(f"\n{len(row_q)} questions in a row in {time.perf_counter() - t0:.0f} s: refused {refused}, p50 {statistics.median(lat2) * 1000:.0f} ms, p95 {percentile(lat2, 0.95) * 1000:.0f} ms")
        print(f"RSS after {warm} warm-up questions {base:.0f} MB, after {len(row_q)} {end:.0f} MB: growth {growth:+.1f}% (limit 10%)")

        if args.embedder == "hashing":
            fresh = [f"{q} ({i})" for i, q in enumerate(row_q[:200])]  # not in the embedder's cache of recent texts
            t0 = time.perf_counter()
            for q in fresh:
                real.embed([q])
            print(f"\nreal ONNX question embedding (add to latencies): {(time.perf_counter() - t0) / 200 * 1000:.1f} ms per question")
        await bot.close()
    ok = answered == len(results) == args.users * per_user and refused == 0 and growth < 10
    print("\nOK" if ok else "\nFAILED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", choices=("onnx", "hashing"), default="onnx")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--row", type=int, default=5000)
    parser.add_argument("--chunk-tokens", type=int, default=40, help="small chunks make SQuAD's 2,067 passages 10,000+ chunks")
    parser.add_argument("--progress", action="store_true")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
