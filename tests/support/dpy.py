"""Driving the real bot through dpytest: the test servers' ids, the sample article per server, posting messages as
Discord's gateway delivers them, and what the bot sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import discord
import discord.ext.test as dpytest
from discord.ext.test import backend
from discord.ext.test import factories as facts
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from retrieval import Library, Settings
from retrieval.ingest.loaders import SAMPLE_DOC_ID
from retrieval.text import sentence_spans

GUILD = 1001  # the server id of the slash-command tests (tests.support.fakes.fake_interaction's default)


def add_sample(library: Library, collection: str) -> None:
    """Put the bundled sample article into one collection."""
    report = library.ingest_sample(collection)
    assert report.added == [SAMPLE_DOC_ID]


async def post(
    channel: Any,
    member: discord.Member,
    content: str = "",
    *,
    kind: discord.MessageType = discord.MessageType.default,
    reply_to: discord.Message | None = None,
) -> discord.Message:
    """A message as Discord's gateway would deliver it, including the kinds dpytest cannot make (system
    messages, replies); the bot's listeners run before this returns."""
    guild = channel.guild
    extra: dict[str, Any] = {}
    if reply_to is not None:
        kind = discord.MessageType.reply
        extra["message_reference"] = {"message_id": reply_to.id, "channel_id": reply_to.channel.id, "guild_id": guild.id}
        extra["referenced_message"] = facts.dict_from_message(reply_to)
    data = facts.make_message_dict(
        channel, member, content=content, type=kind.value, guild_id=guild.id,
        mentions=backend.find_user_mentions(content, guild),
    )
    data.update(extra)  # dpytest's factory drops the fields it does not know
    state = backend.get_state()
    state.parse_message_create(data)
    backend._cur_config.messages.setdefault(channel.id, []).append(data)
    await dpytest.run_all_events()
    message = state._get_message(data["id"])
    assert message is not None
    return message


def sent_in(payloads: list[dict[str, Any]], channel_id: int) -> list[dict[str, Any]]:
    """What the bot posted or edited in one channel."""
    return [p for p in payloads if p["channel_id"] == channel_id]


class DraftingChatModel(BaseChatModel):
    """Stands in for a generative backend (a fake: the tests of drafts are about Discord, not the model).

    It answers as a good model would: every sentence of the shown passages that names one of
    `wanted`, copied as shown and cited by its passage number, so the real verifier keeps it. The
    reply streams a word at a time from the engine's worker thread, and its end waits for `drafted`
    (a threading.Event, or anything with `wait(timeout)`), so a draft can reach Discord first.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    wanted: tuple[str, ...] = ("North Pacific", "Sea of Japan")
    drafted: Any = Field(default_factory=threading.Event)

    @property
    def _llm_type(self) -> str:
        return "drafting-fake"

    def answer(self, messages: list[BaseMessage]) -> str:
        """The reply to a prompt of `retrieval.answer.prompts.messages`: its last message lists the passages as `[n] title: text`."""
        cited = []
        for line in str(messages[-1].content).splitlines():
            number, _, rest = line.partition("] ")
            if not number.startswith("[") or not number[1:].isdigit() or ": " not in rest:
                continue
            body = rest.split(": ", 1)[1]
            for a, b in sentence_spans(body):
                sentence = body[a:b].strip(" …")
                if any(w in sentence for w in self.wanted):
                    cited.append(f"{sentence.rstrip('.')}. [{number[1:]}]")
        return " ".join(cited)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.answer(messages)))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        assert threading.current_thread() is not threading.main_thread(), "the engine runs in a worker thread"
        for word in self.answer(messages).split(" "):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))
        self.drafted.wait(timeout=30)  # let the event loop show a draft before the verified answer replaces it


def drafting_library(settings: Settings, embedder: Any, drafted: Any = None) -> tuple[Library, DraftingChatModel]:
    """The real engine answering with a `DraftingChatModel` (generator: the settings' own, e.g. llamacpp)."""
    model = DraftingChatModel() if drafted is None else DraftingChatModel(drafted=drafted)
    return Library(settings, embedder=embedder, chat_model=model), model
