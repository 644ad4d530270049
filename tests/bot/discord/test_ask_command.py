"""/ask called directly with strict interaction fakes, on the real engine: what the member sees."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import discord

from bot.discord.client import RagBot
from bot.discord.render import DRAFT_HEADER, NO_PINGS, render_waiting
from bot.discord.settings import DiscordSettings
from retrieval.library import Library
from retrieval.types import CANNOT_ANSWER
from tests.support.dpy import GUILD, add_sample, drafting_library
from tests.support.fakes import fake_interaction, shown


async def ask(bot: RagBot, interaction: Any, question: str, private: bool = False) -> None:
    cog = bot.get_cog("Ask")
    await cog.ask.callback(cog, interaction, question, private)


async def test_ask_defers_then_answers_with_markers_and_a_sources_embed(slash_bot: RagBot, sample_guild: int) -> None:
    interaction = fake_interaction(guild_id=sample_guild)
    await ask(slash_bot, interaction, "what exercises were mentioned?")

    interaction.response.defer.assert_awaited_once_with(thinking=True, ephemeral=False)
    interaction.followup.send.assert_awaited_once()
    sent = interaction.followup.send.call_args.kwargs
    assert "North Pacific" in sent["content"] and "Sea of Japan" in sent["content"]
    assert "[1]" in sent["content"] and "[2]" in sent["content"]
    embed = sent["embed"]
    assert embed.title == "Sources"
    # The quoted sentences are the answer: shown once, in the message; the sources name the document citing them.
    [line] = embed.description.splitlines()
    assert line.startswith("**[1]** **[2]** Moscow and Beijing") and line.endswith(" · belousov-beijing.txt")
    assert "Last week" not in embed.description and "Sea of Japan" not in embed.description
    assert sent["allowed_mentions"] is NO_PINGS and sent["ephemeral"] is False


async def test_private_ask_is_answered_ephemerally(slash_bot: RagBot, sample_guild: int) -> None:
    interaction = fake_interaction(guild_id=sample_guild)
    await ask(slash_bot, interaction, "what exercises were mentioned?", private=True)
    interaction.response.defer.assert_awaited_once_with(thinking=True, ephemeral=True)
    assert interaction.followup.send.call_args.kwargs["ephemeral"] is True


async def test_unanswerable_question_gets_the_cannot_answer_reply_without_sources(
    slash_bot: RagBot, sample_guild: int
) -> None:
    interaction = fake_interaction(guild_id=sample_guild)
    await ask(slash_bot, interaction, "what is the boiling point of liquid nitrogen on Jupiter's moons?")
    sent = interaction.followup.send.call_args.kwargs
    assert sent["content"] == CANNOT_ANSWER and "embed" not in sent


async def test_a_server_without_documents_says_its_library_is_empty(slash_bot: RagBot, sample_guild: int) -> None:
    interaction = fake_interaction(guild_id=sample_guild + 1)  # another server: its own, empty library
    await ask(slash_bot, interaction, "what exercises were mentioned?")
    [said] = [m["content"] for m in shown(interaction)]
    assert said.startswith("The library is empty") and "/ingest" in said and CANNOT_ANSWER not in said


async def test_empty_question_is_refused_privately_before_any_work(slash_bot: RagBot, sample_guild: int) -> None:
    interaction = fake_interaction(guild_id=sample_guild)
    await ask(slash_bot, interaction, "   ")
    interaction.response.defer.assert_not_awaited()
    [only] = shown(interaction)
    assert only["ephemeral"] is True and only["content"].startswith("The question is empty")


async def test_cooldown_answers_a_second_quick_question_with_a_friendly_message(
    bot_settings: DiscordSettings, library: Library
) -> None:
    from bot.discord.client import create_bot

    bot = create_bot(bot_settings.model_copy(update={"cooldown_seconds": 3600}), library, sync_commands=False)
    await bot.setup_hook()
    add_sample(library, bot.collection(GUILD))
    first, second, other = (fake_interaction(user_id=u) for u in (7, 7, 8))
    await ask(bot, first, "what exercises were mentioned?")
    await ask(bot, second, "what exercises were mentioned?")
    await ask(bot, other, "what exercises were mentioned?")

    assert "North Pacific" in first.followup.send.call_args.kwargs["content"]
    second.response.defer.assert_not_awaited()
    [refusal] = shown(second)
    assert refusal["ephemeral"] is True and refusal["content"].startswith("You're asking quickly! Please wait")
    assert "North Pacific" in other.followup.send.call_args.kwargs["content"], "the cooldown is per member"


async def test_a_full_queue_gets_a_polite_busy_reply(bot_settings: DiscordSettings, library: Library) -> None:
    from bot.discord.client import create_bot

    bot = create_bot(
        bot_settings.model_copy(update={"max_concurrent_questions": 1, "max_queued_questions": 1}),
        library,
        sync_commands=False,
    )
    await bot.setup_hook()
    gate = bot.asker.gate
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]  # one running, one waiting: the line is full
    while gate.waiting < 1:
        await asyncio.sleep(0)
    interaction = fake_interaction()
    await ask(bot, interaction, "what exercises were mentioned?")
    release.set()
    await asyncio.gather(*holders)

    interaction.response.defer.assert_not_awaited()
    [busy] = shown(interaction)
    assert busy["ephemeral"] is True and "answering a lot of questions right now" in busy["content"]


async def test_extractive_answers_do_not_stream(slash_bot: RagBot, sample_guild: int, library: Library) -> None:
    interaction = fake_interaction(guild_id=sample_guild)
    with mock.patch.object(library, "ask", wraps=library.ask) as spy:
        await ask(slash_bot, interaction, "what exercises were mentioned?")
    assert "on_token" not in spy.call_args.kwargs
    interaction.edit_original_response.assert_not_awaited()


async def test_generative_answers_show_a_draft_then_the_verified_answer(bot_settings: DiscordSettings, embedder: Any) -> None:
    from bot.discord.client import create_bot

    settings = bot_settings.model_copy(update={"generator": "llamacpp"})
    library, model = drafting_library(settings, embedder)
    bot = create_bot(settings, library, sync_commands=False)
    await bot.setup_hook()
    add_sample(library, bot.collection(GUILD))
    interaction = fake_interaction()
    interaction.edit_original_response.side_effect = lambda **kwargs: model.drafted.set()

    await ask(bot, interaction, "what exercises were mentioned?")

    edits = [c.kwargs for c in interaction.edit_original_response.call_args_list]
    assert len(edits) >= 2
    assert all(e["content"].startswith(DRAFT_HEADER) and "embed" not in e for e in edits[:-1])
    assert "North Pacific" in edits[0]["content"] or "Last" in edits[0]["content"]
    final = edits[-1]
    assert not final["content"].startswith(DRAFT_HEADER) and "Sea of Japan" in final["content"]
    assert isinstance(final["embed"], discord.Embed) and "[2]" in final["embed"].description
    assert all(e["allowed_mentions"] is NO_PINGS for e in edits)
    interaction.followup.send.assert_not_awaited()  # the answer replaced the draft in place


async def test_a_question_that_has_to_wait_shows_its_place_in_line_then_the_answer(
    bot_settings: DiscordSettings, library: Library
) -> None:
    from bot.discord.client import create_bot

    bot = create_bot(bot_settings.model_copy(update={"max_concurrent_questions": 1}), library, sync_commands=False)
    await bot.setup_hook()
    add_sample(library, bot.collection(GUILD))
    release = asyncio.Event()

    async def hold() -> None:
        async with bot.asker.gate.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    interaction = fake_interaction()
    asking = asyncio.create_task(ask(bot, interaction, "what exercises were mentioned?"))
    while not interaction.edit_original_response.await_count:
        await asyncio.sleep(0)
    assert interaction.edit_original_response.call_args.kwargs["content"] == render_waiting(1)
    release.set()
    await asyncio.gather(holder, asking)
    final = interaction.edit_original_response.call_args.kwargs
    assert "North Pacific" in final["content"] and final["embed"].title == "Sources", "the answer replaced the wait"
    interaction.followup.send.assert_not_awaited()
