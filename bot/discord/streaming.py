"""Draft answers from generative backends, shown while they stream in: at most one edit a second."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Publish = Callable[[str], Awaitable[None]]


class DraftStream:
    """Collects tokens from the engine's worker thread and publishes the growing draft on the event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        publish: Publish,
        interval: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._loop = loop
        self._publish = publish
        self._interval = interval
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens: list[str] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published: int = 0

    def start(self) -> None:
        """Start publishing (call on the event loop)."""
        self._task = self._loop.create_task(self._run())

    def on_token(self, token: str) -> None:
        """Take one token; safe to call from any thread."""
        with self._lock:
            self._tokens.append(token)
        self._loop.call_soon_threadsafe(self._wake.set)

    @property
    def text(self) -> str:
        """The draft so far."""
        with self._lock:
            return "".join(self._tokens)

    async def _run(self) -> None:
        shown = ""
        while True:
            await self._wake.wait()
            self._wake.clear()
            draft = self.text
            if draft == shown:
                continue
            try:
                await self._publish(draft)
                self.published += 1
                shown = draft
            except Exception:  # a failed draft edit must not fail the answer; the final answer follows anyway
                log.warning("could not show a draft answer", exc_info=True)
            await self._sleep(self._interval)

    async def close(self) -> None:
        """Stop publishing drafts (the verified answer replaces them)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
