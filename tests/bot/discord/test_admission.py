"""The concurrency gate, the cooldown and the draft stream, on their own."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.discord.admission import BusyError, Cooldown, CooldownError, Gate
from bot.discord.streaming import DraftStream


async def test_gate_runs_at_most_n_at_once_and_the_rest_wait_their_turn() -> None:
    gate = Gate(concurrent=2, queued=10)
    running = 0
    most = 0
    release = asyncio.Event()

    async def question() -> str:
        nonlocal running, most
        async with gate.slot():
            running += 1
            most = max(most, running)
            await release.wait()
            running -= 1
        return "answered"

    tasks = [asyncio.create_task(question()) for _ in range(7)]
    while gate.waiting < 5:
        await asyncio.sleep(0)
    assert running == 2 and gate.waiting == 5 and not gate.full
    release.set()
    assert await asyncio.gather(*tasks) == ["answered"] * 7
    assert most == 2 and gate.waiting == 0


async def test_gate_is_busy_only_when_the_line_is_full() -> None:
    gate = Gate(concurrent=1, queued=2)
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(3)]
    while gate.waiting < 2:
        await asyncio.sleep(0)
    assert gate.full
    with pytest.raises(BusyError, match="answering a lot of questions"):
        async with gate.slot():
            pass
    release.set()
    await asyncio.gather(*tasks)
    gate.check()  # room again


def test_cooldown_is_per_member_and_ends() -> None:
    now = [100.0]
    cooldown = Cooldown(3.0, clock=lambda: now[0])
    cooldown.hit(1)
    cooldown.hit(2)
    now[0] += 1.2
    with pytest.raises(CooldownError, match="Please wait 2 seconds"):
        cooldown.hit(1)
    now[0] += 1.8
    cooldown.hit(1)  # three seconds after the first question


def test_zero_cooldown_never_refuses() -> None:
    cooldown = Cooldown(0, clock=lambda: 5.0)
    for _ in range(3):
        cooldown.hit(1)


async def test_draft_stream_collects_tokens_from_another_thread_and_publishes_then_waits_the_interval() -> None:
    published: list[str] = []
    events: list[str] = []
    seen = threading.Event()

    async def publish(text: str) -> None:
        published.append(text)
        events.append("publish")
        seen.set()

    async def sleep(seconds: float) -> None:
        events.append(f"sleep {seconds}")

    stream = DraftStream(asyncio.get_running_loop(), publish, interval=1.0, sleep=sleep)
    stream.start()

    def worker() -> None:
        for token in ["The ", "drills ", "were ", "in ", "the ", "Sea ", "of ", "Japan."]:
            stream.on_token(token)
        seen.wait(timeout=30)
        stream.on_token(" [1]")

    await asyncio.to_thread(worker)
    while published[-1:] != ["The drills were in the Sea of Japan. [1]"]:
        await asyncio.sleep(0)
    await stream.close()

    assert stream.text == "The drills were in the Sea of Japan. [1]"
    assert all(a.startswith(b) for a, b in zip(published[1:], published))  # each draft grows the last one
    # at most one edit per interval: every publish is followed by the pause before the next can happen
    assert all(events[i + 1] == "sleep 1.0" for i, e in enumerate(events) if e == "publish" and i + 1 < len(events))


async def test_a_failing_draft_edit_does_not_stop_the_stream() -> None:
    calls: list[str] = []

    async def publish(text: str) -> None:
        calls.append(text)
        raise RuntimeError("edit failed")

    async def no_sleep(seconds: float) -> None:
        return None

    stream = DraftStream(asyncio.get_running_loop(), publish, sleep=no_sleep)
    stream.start()
    stream.on_token("a")
    while not calls:
        await asyncio.sleep(0)
    stream.on_token("b")
    while len(calls) < 2:
        await asyncio.sleep(0)
    await stream.close()
    assert calls == ["a", "ab"]


async def test_waiting_questions_hear_their_place_in_line_each_time_it_moves() -> None:
    gate = Gate(concurrent=1, queued=10)
    places: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    done = {name: asyncio.Event() for name in ("first", "a", "b", "c")}

    async def question(name: str) -> None:
        async def told(place: int) -> None:
            places[name].append(place)

        async with gate.slot(told if name != "first" else None):
            await done[name].wait()

    tasks = [asyncio.create_task(question(n)) for n in ("first", "a", "b", "c")]
    while gate.waiting < 3:
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert places == {"a": [1], "b": [2], "c": [3]}
    tasks[2].cancel()  # "b" gives up: "c" moves up
    for _ in range(5):
        await asyncio.sleep(0)
    assert places["c"] == [3, 2] and gate.waiting == 2
    done["first"].set()  # "a" gets the slot, "c" is next
    while places["c"][-1] != 1:
        await asyncio.sleep(0)
    assert places["a"] == [1] and gate.running == 1
    done["a"].set()
    done["c"].set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert gate.running == 0 and gate.waiting == 0
