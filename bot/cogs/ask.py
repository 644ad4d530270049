"""Asking: `/ask`, and mentions answered in a thread whose follow-ups keep the conversation."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.render import NO_PINGS, Reply, render_answer, render_draft
from bot.replies import APOLOGY, send_private
from retrieval.errors import RagbotError

if TYPE_CHECKING:
    from bot.client import RagBot

log = logging.getLogger(__name__)

THREAD_NAME_CHARS = 90
HISTORY_MESSAGES = 50
_MENTION = re.compile(r"<@!?(\d+)>")


class Ask(commands.Cog):
    """Questions about the server's articles, answered with checkable citations."""

    def __init__(self, bot: RagBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask")
    @app_commands.describe(question="What you want to know about the articles", private="Only you see the answer")
    @app_commands.guild_only()
    async def ask(self, interaction: discord.Interaction, question: str, private: bool = False) -> None:
        """Ask a question about this server's articles; the answer cites its sources."""
        asker = self.bot.asker
        try:
            question = asker.admit(interaction.user.id, question)
        except RagbotError as exc:
            await send_private(interaction, str(exc))
            return
        await interaction.response.defer(thinking=True, ephemeral=private)
        drafted = False

        async def show_draft(text: str) -> None:
            nonlocal drafted
            await interaction.edit_original_response(content=render_draft(text), allowed_mentions=NO_PINGS)
            drafted = True

        try:
            answer = await asker.answer(question, self.bot.collection(interaction.guild_id), on_draft=show_draft)
        except RagbotError as exc:
            await send_private(interaction, str(exc))
            return
        replies = render_answer(answer)
        first, rest = replies[0], replies[1:]
        if drafted:  # replace the draft in place with the verified answer
            await interaction.edit_original_response(
                content=first.content, embed=first.embed, allowed_mentions=NO_PINGS
            )
        else:
            await interaction.followup.send(**_send_kwargs(first), ephemeral=private)
        for reply in rest:
            await interaction.followup.send(**_send_kwargs(reply), ephemeral=private)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer a mention in a new thread, and every message in a thread the bot started as a follow-up."""
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None:
            return
        channel = message.channel
        follow_up = isinstance(channel, discord.Thread) and channel.owner_id == me.id
        if not follow_up and me.id not in message.raw_mentions:
            return
        question = clean_question(message.content, me.id)
        try:
            await self._answer_message(message, question, follow_up)
        except RagbotError as exc:
            await _say(message.channel, str(exc), reference=message)
        except Exception:
            log.exception("unexpected error answering a message")
            await _say(message.channel, APOLOGY, reference=message)

    async def _answer_message(self, message: discord.Message, question: str, follow_up: bool) -> None:
        asker = self.bot.asker
        try:
            question = asker.admit(message.author.id, question)
        except RagbotError as exc:
            await _say(message.channel, str(exc), reference=message)
            return
        if follow_up:
            assert isinstance(message.channel, discord.Thread)
            where: discord.abc.Messageable = message.channel
            history = await self.thread_questions(message.channel, before=message)
        else:
            where = await self._thread_for(message, question)
            history = []
        collection = self.bot.collection(message.guild.id if message.guild else None)
        try:
            if asker.streams:
                draft = await where.send(render_draft(""), allowed_mentions=NO_PINGS)

                async def show_draft(text: str) -> None:
                    await draft.edit(content=render_draft(text), allowed_mentions=NO_PINGS)

                answer = await asker.answer(question, collection, history, on_draft=show_draft)
                replies = render_answer(answer)
                await draft.edit(**_send_kwargs(replies[0]))
                replies = replies[1:]
            else:
                async with where.typing():
                    answer = await asker.answer(question, collection, history)
                replies = render_answer(answer)
        except RagbotError as exc:  # e.g. busy after all: said where the answer would have been
            await _say(where, str(exc))
            return
        for reply in replies:
            await where.send(**_send_kwargs(reply))

    async def _thread_for(self, message: discord.Message, question: str) -> discord.abc.Messageable:
        """A new thread started from the message, or the message's own channel where threads cannot start."""
        if isinstance(message.channel, discord.TextChannel):
            name = question if len(question) <= THREAD_NAME_CHARS else question[: THREAD_NAME_CHARS - 1] + "…"
            try:
                return await message.create_thread(name=name, auto_archive_duration=1440)
            except discord.Forbidden:
                log.info("no permission to create threads in #%s; answering in the channel", message.channel)
        return message.channel

    async def thread_questions(self, thread: discord.Thread, before: discord.Message) -> list[str]:
        """The questions asked so far in an answer thread, oldest first (the starting message first)."""
        me = self.bot.user
        assert me is not None
        questions: list[str] = []
        starter = thread.starter_message
        if starter is None and isinstance(thread.parent, discord.TextChannel):
            try:
                starter = await thread.parent.fetch_message(thread.id)
            except discord.HTTPException:
                starter = None
        if starter is not None:
            questions.append(clean_question(starter.content, me.id))
        later = [
            clean_question(m.content, me.id)
            async for m in thread.history(limit=HISTORY_MESSAGES, before=before)
            if not m.author.bot and m.type in (discord.MessageType.default, discord.MessageType.reply)
        ]
        questions.extend(reversed(later))  # history() yields newest first
        return [q for q in questions if q]


def clean_question(content: str, bot_id: int) -> str:
    """The message text without the bot's own mention."""
    return " ".join(re.sub(rf"<@!?{bot_id}>", " ", content).split())


def _send_kwargs(reply: Reply) -> dict[str, object]:
    kwargs: dict[str, object] = {"content": reply.content, "allowed_mentions": NO_PINGS}
    if reply.embed is not None:
        kwargs["embed"] = reply.embed
    return kwargs


async def _say(channel: discord.abc.Messageable, text: str, reference: discord.Message | None = None) -> None:
    try:
        await channel.send(text, allowed_mentions=NO_PINGS, reference=reference, mention_author=False)
    except discord.HTTPException:
        log.warning("could not send a message", exc_info=True)


async def setup(bot: RagBot) -> None:
    """Load the cog (extension entry point)."""
    await bot.add_cog(Ask(bot))
