"""Load test of the Discord layer: N concurrent /ask through the cog (gate, cooldown, worker threads, rendering).

Only Discord's servers are faked (strict `spec_set` interactions); the engine, Chroma and the model are real.
Prints how many were answered, p50/p95 latency and the worst event-loop lag, measured by a background task
that times how late `asyncio.sleep(0.01)` wakes up.

    .venv/bin/python bench/bot_load.py [--questions 50] [--concurrent 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

import _common  # noqa: F401  (first: it puts the checkout on sys.path)

from bot.discord.client import create_bot
from bot.discord.settings import DiscordSettings
from retrieval.types import CANNOT_ANSWER
from tests.support.fakes import fake_interaction

QUESTIONS = [
    "what exercises were mentioned?",
    "where did Belousov travel?",
    "who did the Russian defence minister meet in Beijing?",
    "what did Belousov say about global affairs?",
    "where did the coastguards patrol?",
    "what happened in the Sea of Japan?",
    "what did Putin say about the naval exercise?",
    "what is the capital of Peru?",  # not in the article: the cannot-answer reply also counts as answered
]
GUILD = 1


class LagMonitor:
    """Measures how late the event loop wakes a sleeping task: the worst lag is the longest the loop was blocked."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, time.perf_counter() - start - self.interval)

    def __enter__(self) -> Self:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def run(questions: int, concurrent: int) -> int:
    defaults = DiscordSettings()
    with tempfile.TemporaryDirectory() as data:
        settings = defaults.model_copy(
            update={
                "data_dir": Path(data),
                "model_cache_dir": defaults.models_dir.resolve(),
                "max_concurrent_questions": concurrent,
            }
        )
        bot = create_bot(settings, sync_commands=False)
        started = time.perf_counter()
        await bot.setup_hook()  # loads the cogs and the model, as before `ready`
        print(f"setup_hook (cogs + model warm-up): {time.perf_counter() - started:.2f} s")
        bot.library.ingest_sample(bot.collection(GUILD))
        await asyncio.to_thread(bot.library.warm, bot.collection(GUILD))
        cog = bot.get_cog("Ask")

        # The fakes are built before measuring: autospec costs ~50 ms each, which is the fake's cost, not the bot's.
        interactions = [fake_interaction(guild_id=GUILD, user_id=10_000 + i) for i in range(questions)]

        async def one(i: int) -> tuple[float, str]:
            interaction = interactions[i]
            t0 = time.perf_counter()
            await cog.ask.callback(cog, interaction, QUESTIONS[i % len(QUESTIONS)], False)
            elapsed = time.perf_counter() - t0
            sent = interaction.followup.send.call_args
            content = sent.kwargs.get("content", "") if sent else ""
            ok = bool(sent) and sent.kwargs.get("ephemeral") is False
            return elapsed, ("cannot" if content == CANNOT_ANSWER else "cited") if ok else f"refused: {content}"

        with LagMonitor() as lag:
            t0 = time.perf_counter()
            results = await asyncio.gather(*(one(i) for i in range(questions)))
            wall = time.perf_counter() - t0
        await bot.close()

    latencies = sorted(r[0] for r in results)
    answered = sum(1 for r in results if not r[1].startswith("refused"))
    cited = sum(1 for r in results if r[1] == "cited")
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"questions: {questions}  concurrent slots: {concurrent}  queue: {settings.max_queued_questions}")
    print(f"answered: {answered}/{questions} ({cited} with citations, {answered - cited} cannot-answer)")
    print(
        f"latency p50: {statistics.median(latencies) * 1000:.0f} ms  p95: {p95 * 1000:.0f} ms  max: {latencies[-1] * 1000:.0f} ms"
    )
    print(f"wall time: {wall:.2f} s  throughput: {questions / wall:.1f} questions/s")
    print(f"worst event-loop lag: {lag.worst * 1000:.1f} ms")
    for r in results:
        if r[1].startswith("refused"):
            print(r[1])
    return 0 if answered == questions and lag.worst < 0.1 else 1


def main() -> int:
    """Parse the options and run the load test."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--concurrent", type=int, default=DiscordSettings().max_concurrent_questions)
    args = parser.parse_args()
    return asyncio.run(run(args.questions, args.concurrent))


if __name__ == "__main__":
    sys.exit(main())
