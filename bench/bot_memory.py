"""Resident memory of the bot process with the SQuAD library loaded, while it answers.

The real bot (`create_bot`, `setup_hook`: cogs loaded, engine warmed) over a library of all
2,067 SQuAD v1.1 dev passages; questions go to the engine the way the bot sends them (worker
threads, at most RAGBOT_MAX_CONCURRENT_QUESTIONS at once), from 20 simulated users. No fakes are
imported (bench/load.py's strict mocks of Discord's objects cost ~130 MB of their own), so the
figures are the bot's. The library is built in a child process (`ragbot ingest`) unless given.

    .venv/bin/python bench/bot_memory.py [--data-dir DIR] [--questions 1200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import shutil

from _common import squad_questions
from questions import library_dir


def rss_mb() -> float:
    """Current resident memory of this process, in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


async def measure(questions: list[str], users: int) -> dict[str, float]:
    from bot.discord.client import create_bot
    from bot.discord.settings import DiscordSettings
    from retrieval.library import Library

    settings = DiscordSettings(shared_library=True)  # RAGBOT_DATA_DIR is the library
    out = {"imports_mb": rss_mb()}
    lib = Library(settings)
    bot = create_bot(settings, lib, sync_commands=False)
    await bot.setup_hook()
    await asyncio.to_thread(lib.ask, questions[0])
    out["started_mb"] = rss_mb()
    gate = asyncio.Semaphore(settings.max_concurrent_questions)
    per_user = len(questions) // users

    async def user(u: int) -> None:
        for q in questions[u * per_user : (u + 1) * per_user]:
            async with gate:
                await asyncio.to_thread(lib.ask, q)

    await asyncio.gather(*(user(u) for u in range(users)))
    out["after_mb"] = rss_mb()
    out["peak_mb"] = peak_mb()
    out["questions"] = per_user * users
    out["chunks"] = lib.collection().count()
    await bot.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="an existing ragbot data dir holding SQuAD (default: build one in a temp dir)")
    ap.add_argument("--questions", type=int, default=1200)
    ap.add_argument("--users", type=int, default=20)
    args = ap.parse_args()
    data_dir, tmp = library_dir(args.data_dir, 0, "botmem")
    import os

    os.environ["RAGBOT_DATA_DIR"] = str(data_dir)
    try:
        qs = [q["question"] for q in squad_questions(args.questions)]
        random.Random(0).shuffle(qs)
        result = asyncio.run(measure(qs, args.users))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))
    print(
        f"bot over {result['chunks']:,} chunks: {result['imports_mb']:.0f} MB after imports, {result['started_mb']:.0f} MB started "
        f"(cogs, engine warm, library open, one answer), {result['after_mb']:.0f} MB after {result['questions']} questions "
        f"from {args.users} users; peak {result['peak_mb']:.0f} MB (goal < 400 MB)"
    )


if __name__ == "__main__":
    main()
