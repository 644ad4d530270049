"""Who may ask now: a bounded concurrency gate (slots plus a waiting line) and a per-user cooldown."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from retrieval import RagbotError

log = logging.getLogger(__name__)


class BusyError(RagbotError):
    """Every slot is taken and the waiting line is full."""


class CooldownError(RagbotError):
    """The member asked again too soon."""


Wait = Callable[[int], Awaitable[None]]


class Gate:
    """At most `concurrent` questions run at once; up to `queued` more wait their turn in order, beyond that: busy."""

    def __init__(self, concurrent: int, queued: int) -> None:
        self.concurrent = concurrent
        self.queued = queued
        self.running = 0
        self._line: deque[asyncio.Future[None]] = deque()
        self._moved = asyncio.Event()

    @property
    def waiting(self) -> int:
        """How many questions wait for a slot."""
        return len(self._line)

    @property
    def full(self) -> bool:
        """True when a new question would find no slot and no room in the line."""
        return self.running >= self.concurrent and self.waiting >= self.queued

    def check(self) -> None:
        """Raise BusyError when a new question could not even queue."""
        if self.full:
            raise BusyError("I'm answering a lot of questions right now; please ask again in a minute.")

    @asynccontextmanager
    async def slot(self, on_wait: Wait | None = None) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block, waiting in line for it if needed.

        While it waits, `on_wait` is told its place in line (1 = next), again each time the line moves.
        """
        self.check()
        if self.running < self.concurrent and not self._line:
            self.running += 1
        else:
            await self._wait_in_line(on_wait)
        try:
            yield
        finally:
            self._release()

    async def _wait_in_line(self, on_wait: Wait | None) -> None:
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line.append(ticket)
        told = 0
        try:
            while not ticket.done():
                place = self._line.index(ticket) + 1
                if on_wait is not None and place != told:
                    told = place
                    try:
                        await on_wait(place)
                    except Exception:  # showing the place in line must never cost the place itself
                        log.warning("could not show a place in line", exc_info=True)
                    continue  # the line may have moved while we were telling
                moved = asyncio.ensure_future(self._moved.wait())
                either: set[asyncio.Future[Any]] = {ticket, moved}  # our turn, or the line moved
                try:
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    moved.cancel()
        except BaseException:
            if ticket in self._line:
                self._line.remove(ticket)
                self._line_moved()
            elif ticket.done() and not ticket.cancelled():
                self._release()  # the slot was handed to us as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        """Hand the slot to the first in line, or free it; tell the others that the line moved."""
        while self._line:
            ticket = self._line.popleft()
            if not ticket.done():
                ticket.set_result(None)
                break
        else:
            self.running -= 1
        self._line_moved()

    def _line_moved(self) -> None:
        """Wake the waiters so that each sees its new place."""
        self._moved.set()
        self._moved = asyncio.Event()


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
