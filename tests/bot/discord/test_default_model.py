"""The Discord mention path answered by the real default model (Qwen2.5-Coder-1.5B), through dpytest."""

from __future__ import annotations

from typing import Any

import discord
import discord.ext.test as dpytest
import pytest

from bot.discord.render import DRAFT_HEADER
from bot.discord.settings import DiscordSettings
from retrieval.embedding import Embedder
from retrieval.ingest.loaders import SAMPLE_ARTICLE
from retrieval.library import Library
from retrieval.types import CANNOT_ANSWER
from tests.support.dpy import sent_in
from tests.support.llm import default_model


@pytest.mark.slow
async def test_a_mention_is_answered_by_the_default_model(
    make_dpy_bot: Any, bot_settings: DiscordSettings, embedder: Embedder, payloads: list[dict[str, Any]]
) -> None:
    default_model()
    settings = bot_settings.model_copy(update={"generator": "llamacpp", "llm_model": None})
    library = Library(settings, embedder=embedder)
    bot = await make_dpy_bot(settings, library)
    config = dpytest.get_config()
    channel, member = config.guilds[0].text_channels[0], config.members[0]
    library.ingest_sample(bot.collection(channel.guild.id))
    text = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    cog: Any = bot.get_cog("Ask")
    for question, photographer in (("Who took the photo of the welcome ceremony?", True),
                                   ("How many ships took part in the naval exercise?", False)):
        asked = await dpytest.message(f"<@{bot.user.id}> {question}", channel=channel, member=member)
        thread = channel.guild.get_thread(asked.id)
        assert isinstance(thread, discord.Thread)
        shown = [p for p in sent_in(payloads, thread.id) if not str(p.get("content", "")).startswith(DRAFT_HEADER)]
        final = shown[-1]
        turn = cog.turns[asked.id]
        if not photographer:  # a near miss: on topic, but the article never says how many ships
            assert final["content"] == CANNOT_ANSWER and not turn.quotes
            continue
        assert "Savitskii" in final["content"] and "[1]" in final["content"]
        assert final["embeds"][0]["title"] == "Sources"
        assert any("Savitskii" in q for q in turn.quotes) and all(q in text for q in turn.quotes)
