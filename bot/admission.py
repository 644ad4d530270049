"""Who may ask now: a bounded concurrency gate (slots plus a waiting line) and a per-user cooldown."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from retrieval.errors import RagbotError


class BusyError(RagbotError):
    """Every slot is taken and the waiting line is full."""


class CooldownError(RagbotError):
    """The member asked again too soon."""


class Gate:
    """At most `concurrent` questions run at once; up to `queued` more wait their turn, beyond that: busy."""

    def __init__(self, concurrent: int, queued: int) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self.queued = queued
        self.waiting = 0

    @property
    def full(self) -> bool:
        """True when a new question would find no slot and no room in the line."""
        return self._slots.locked() and self.waiting >= self.queued

    def check(self) -> None:
        """Raise BusyError when a new question could not even queue."""
        if self.full:
            raise BusyError("I'm answering a lot of questions right now; please ask again in a minute.")

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block, waiting in line for it if needed."""
        self.check()
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


class Cooldown:
    """A per-user pause between questions."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: dict[int, float] = {}

    def hit(self, user_id: int) -> None:
        """Record a question from the user, or raise CooldownError when it comes too soon after the last."""
        if self.seconds <= 0:
            return
        now = self._clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            wait = math.ceil(self.seconds - (now - last))
            raise CooldownError(
                f"You're asking quickly! Please wait {wait} second{'s' if wait != 1 else ''} and ask again."
            )
        self._last[user_id] = now
        if len(self._last) > 10_000:  # forget members whose cooldown is long over
            self._last = {u: t for u, t in self._last.items() if now - t < self.seconds}
