"""The one path every question takes: cooldown, the concurrency gate, the engine in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.discord.admission import Cooldown, Gate, Wait
from bot.discord.settings import DiscordSettings
from bot.discord.streaming import DraftStream, Publish
from retrieval import Answer, FollowUp, Library, LibraryEmpty, RagbotError, Turn

EMPTY_LIBRARY = "The library is empty: a member with the Manage Server permission can add articles with /ingest (a file or a URL)."


class Asker:
    """Admits questions and answers them without blocking the event loop."""

    def __init__(self, library: Library, settings: DiscordSettings) -> None:
        self.library = library
        self.settings = settings
        self.gate = Gate(settings.max_concurrent_questions, settings.max_queued_questions)
        self.cooldown = Cooldown(settings.cooldown_seconds)

    @property
    def streams(self) -> bool:
        """Whether answers arrive token by token (generative backends) and drafts are worth showing."""
        return self.library.generator != "extractive"

    def admit(self, user_id: int, question: str) -> str:
        """The cleaned question, or a RagbotError (empty, too long, cooldown, busy) before any work starts."""
        question = self.library.check_question(question)
        self.gate.check()
        self.cooldown.hit(user_id)
        return question

    async def answer(
        self, question: str, collection: str, history: Sequence[Turn] = (), on_draft: Publish | None = None,
        on_wait: Wait | None = None,
    ) -> Answer:
        """A cited answer, after waiting for a free slot (`on_wait` hears the place in line); drafts go to `on_draft`."""
        try:
            return await self._answer(question, collection, history, on_draft, on_wait)
        except LibraryEmpty as exc:  # the engine's hint names the command line; on Discord it is /ingest
            raise RagbotError(EMPTY_LIBRARY) from exc

    async def _answer(
        self, question: str, collection: str, history: Sequence[Turn], on_draft: Publish | None, on_wait: Wait | None
    ) -> Answer:
        asked = FollowUp(question, tuple(history))
        async with self.gate.slot(on_wait):
            if not (self.streams and on_draft):
                return await asyncio.to_thread(self.library.ask, asked, collection=collection)
            stream = DraftStream(asyncio.get_running_loop(), on_draft)
            stream.start()
            try:
                return await asyncio.to_thread(self.library.ask, asked, collection=collection, on_token=stream.on_token)
            finally:
                await stream.close()
