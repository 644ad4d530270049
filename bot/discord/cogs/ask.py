"""Asking: `/ask`, and mentions answered in a thread whose follow-ups keep the conversation."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, TypedDict

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.admission import BusyError, CooldownError
from bot.discord.render import NO_PINGS, Reply, render_answer, render_draft, render_waiting
from bot.discord.replies import APOLOGY, SHUTTING_DOWN, send_private
from retrieval import Answer, RagbotError, Turn

if TYPE_CHECKING:
    from bot.discord.client import RagBot

log = logging.getLogger(__name__)

THREAD_NAME_CHARS = 90
HISTORY_MESSAGES = 50
TURNS_KEPT = 2000  # answered questions remembered exactly (with their quotes); older ones are read back from the thread
CHAT_TYPES = (discord.MessageType.default, discord.MessageType.reply)  # a member's own words, not a system message

# The quiet answers to a mention the bot will not take now: a reaction on the member's message.
COOLDOWN_REACTION = "⏳"
BUSY_REACTION = "🚦"
EMPTY_REACTION = "❔"

_QUESTION_START = re.compile(
    r"^\W*(?:(?:and|but|so|also|ok|okay|then|now|hm+|oh)\b\W*)*"
    r"(?:who|whom|whose|what|when|where|which|why|how|is|are|was|were|do|does|did|can|could|would|will|should|"
    r"has|have|had|tell me|list|name|explain|describe|show me)\b",
    re.IGNORECASE,
)
_MARKERS = re.compile(r"\s*\[\d+\]")


class AskCog(commands.Cog, name="Ask"):
    """Questions about the server's articles, answered with checkable citations."""

    def __init__(self, bot: RagBot) -> None:
        self.bot = bot
        self.turns: OrderedDict[int, Turn] = OrderedDict()  # question message id -> what was answered

    @app_commands.command(name="ask")
    @app_commands.describe(question="What you want to know about the articles", private="Only you see the answer")
    @app_commands.guild_only()
    async def ask(self, interaction: discord.Interaction, question: str, private: bool = False) -> None:
        """Ask a question about this server's articles; the answer cites its sources."""
        asker = self.bot.asker
        try:
            self.bot.check_open()
            question = asker.admit(interaction.user.id, question)
        except RagbotError as exc:
            await send_private(interaction, str(exc))
            return
        await interaction.response.defer(thinking=True, ephemeral=private)
        edited = False

        async def show(text: str) -> None:
            nonlocal edited
            await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)
            edited = True

        async def show_draft(text: str) -> None:
            await show(render_draft(text))

        async def show_place(place: int) -> None:
            await show(render_waiting(place))

        started = time.perf_counter()
        with self.bot.in_flight():
            try:
                answer = await asker.answer(
                    question, self.bot.collection(interaction.guild_id), on_draft=show_draft, on_wait=show_place
                )
            except asyncio.CancelledError:
                await _quietly(send_private(interaction, SHUTTING_DOWN))
                raise
            except RagbotError as exc:
                self._log(interaction.guild_id, "slash", question, started, type(exc).__name__)
                await send_private(interaction, str(exc))
                return
            self._log(interaction.guild_id, "slash", question, started, _outcome(answer), answer)
            replies = render_answer(answer)
            first, rest = replies[0], replies[1:]
            if edited:  # replace the draft (or the place in line) with the verified answer
                await interaction.edit_original_response(
                    content=first.content, embed=first.embed, allowed_mentions=NO_PINGS
                )
            else:
                await interaction.followup.send(**_send_kwargs(first), ephemeral=private)
            for reply in rest:  # still in flight: shutdown waits until the whole answer is out
                await interaction.followup.send(**_send_kwargs(reply), ephemeral=private)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer a mention in a new thread, and, in a thread the bot started, what is asked of it."""
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None or message.type not in CHAT_TYPES:
            return
        channel = message.channel
        follow_up = isinstance(channel, discord.Thread) and channel.owner_id == me.id
        mentioned = me.id in message.raw_mentions
        if follow_up:
            if not self.asked_of_me(message):
                return
        elif not mentioned:
            return
        question = clean_question(message.content, me.id)
        if not question and follow_up and not mentioned:
            return  # an image, a sticker or an embed in the thread: not a question
        with self.bot.in_flight():
            try:
                await self._answer_message(message, question, follow_up)
            except Exception:
                log.exception("unexpected error answering a message")
                await _say(message.channel, APOLOGY, reference=message)

    def asked_of_me(self, message: discord.Message) -> bool:
        """Whether a message in an answer thread is for the bot: it mentions or replies to it, or reads as a question.

        A message that mentions someone else and not the bot is between members.
        """
        me = self.bot.user
        assert me is not None
        if me.id in message.raw_mentions:
            return True
        reference = message.reference.resolved if message.reference else None
        if isinstance(reference, discord.Message) and reference.author.id == me.id:
            return True
        if message.raw_mentions or message.raw_role_mentions or message.mention_everyone:
            return False
        return reads_as_question(clean_question(message.content, me.id))

    async def _answer_message(self, message: discord.Message, question: str, follow_up: bool) -> None:
        asker = self.bot.asker
        try:
            self.bot.check_open()
            question = asker.admit(message.author.id, question)
        except CooldownError:
            await _react(message, COOLDOWN_REACTION)
            return
        except BusyError:
            await _react(message, BUSY_REACTION)
            return
        except RagbotError as exc:
            if not question:
                await _react(message, EMPTY_REACTION)
            else:  # too long, or shutting down: worth a sentence
                await _say(message.channel, str(exc), reference=message)
            return
        if follow_up:
            assert isinstance(message.channel, discord.Thread)
            where: discord.abc.Messageable = message.channel
            history = await self.thread_turns(message.channel, before=message)
        else:
            where = await self._thread_for(message, question)
            history = []
        collection = self.bot.collection(message.guild.id if message.guild else None)
        placeholder: discord.Message | None = None  # the place in line, then the draft: replaced by the answer

        async def show(text: str) -> None:
            nonlocal placeholder
            if placeholder is None:
                placeholder = await where.send(text, allowed_mentions=NO_PINGS)
            else:
                await placeholder.edit(content=text, allowed_mentions=NO_PINGS)

        async def show_draft(text: str) -> None:
            await show(render_draft(text))

        async def show_place(place: int) -> None:
            await show(render_waiting(place))

        started = time.perf_counter()
        try:
            if asker.streams:
                await show(render_draft(""))
                answer = await asker.answer(question, collection, history, on_draft=show_draft, on_wait=show_place)
            else:
                async with where.typing():
                    answer = await asker.answer(question, collection, history, on_wait=show_place)
        except asyncio.CancelledError:  # shutting down: say so where the answer would have been
            await _quietly(_replace(placeholder, where, SHUTTING_DOWN))
            raise
        except Exception as exc:
            expected = isinstance(exc, RagbotError)
            if not expected:
                log.error("unexpected error answering a message", exc_info=exc)
            self._log(message.guild.id if message.guild else None, "mention", question, started, type(exc).__name__)
            await _replace(placeholder, where, str(exc) if expected else APOLOGY)
            return
        self._log(message.guild.id if message.guild else None, "mention", question, started, _outcome(answer), answer)
        self._remember(message.id, Turn.of(answer))
        replies = render_answer(answer)
        if placeholder is not None:
            await placeholder.edit(**_send_kwargs(replies[0]))
            replies = replies[1:]
        for reply in replies:
            await where.send(**_send_kwargs(reply))

    def _remember(self, message_id: int, turn: Turn) -> None:
        self.turns[message_id] = turn
        while len(self.turns) > TURNS_KEPT:
            self.turns.popitem(last=False)

    def _log(
        self, guild_id: int | None, path: str, question: str, started: float, outcome: str, answer: Answer | None = None
    ) -> None:
        """One line per question for operators: where, how it ended and how long it took; its words only when asked."""
        content = f" question={question!r}" if self.bot.settings.log_content else ""
        cited = f" citations={len(answer.citations)}" if answer is not None else ""
        log.info(
            "question guild=%s path=%s outcome=%s%s ms=%.0f%s",
            guild_id, path, outcome, cited, (time.perf_counter() - started) * 1000, content,
        )

    async def _thread_for(self, message: discord.Message, question: str) -> discord.abc.Messageable:
        """A new thread started from the message, or the message's own channel where threads cannot start."""
        if isinstance(message.channel, discord.TextChannel):
            name = question if len(question) <= THREAD_NAME_CHARS else question[: THREAD_NAME_CHARS - 1] + "…"
            try:
                return await message.create_thread(name=name, auto_archive_duration=1440)
            except discord.Forbidden:
                log.info("no permission to create threads in #%s; answering in the channel", message.channel)
        return message.channel

    async def thread_turns(self, thread: discord.Thread, before: discord.Message) -> list[Turn]:
        """The conversation so far in an answer thread, oldest first: each question with the answer it got.

        Answers given since the bot started are remembered with their exact quotes; older ones
        are read back from the bot's messages in the thread.
        """
        me = self.bot.user
        assert me is not None
        messages: list[discord.Message] = []
        starter = thread.starter_message
        if starter is None and isinstance(thread.parent, discord.TextChannel):
            try:
                starter = await thread.parent.fetch_message(thread.id)
            except discord.HTTPException:
                starter = None
        if starter is not None:
            messages.append(starter)
        later = [m async for m in thread.history(limit=HISTORY_MESSAGES, before=before)]
        messages.extend(reversed(later))  # history() yields newest first
        turns: list[Turn] = []
        for i, m in enumerate(messages):
            if m.author.id == me.id or m.author.bot or m.type not in CHAT_TYPES:
                continue
            if m is not starter and not self.asked_of_me(m):
                continue
            question = clean_question(m.content, me.id)
            if not question:
                continue
            turns.append(self.turns.get(m.id) or _read_back(question, messages[i + 1 :], me.id))
        return turns


def reads_as_question(text: str) -> bool:
    """Whether a line reads as a question: it ends in a question mark or starts like one ("and where was that")."""
    text = text.strip()
    return text.endswith("?") or bool(_QUESTION_START.match(text))


def clean_question(content: str, bot_id: int) -> str:
    """The message text without the bot's own mention."""
    return " ".join(re.sub(rf"<@!?{bot_id}>", " ", content).split())


def _read_back(question: str, after: list[discord.Message], bot_id: int) -> Turn:
    """A turn rebuilt from the thread: the bot's next message is the answer, its marked sentences the quotes."""
    reply = next((m for m in after if m.author.id == bot_id), None)
    if reply is None or not reply.embeds:  # no answer, or one without sources (an abstention)
        return Turn(question)
    text = re.sub(r"\\(.)", r"\1", reply.content)  # the answer was sent markdown-escaped
    quotes = tuple(q.strip() for q in re.split(r"\[\d+\]", text) if q.strip(" .\n"))
    return Turn(question, _MARKERS.sub("", text), quotes)


def _outcome(answer: Answer) -> str:
    return "answered" if answer.answerable else "abstained"


class _SendKwargs(TypedDict, total=False):
    """The keyword arguments a reply is sent (or edited in) with; `embed` only when the reply has one."""

    content: str
    allowed_mentions: discord.AllowedMentions
    embed: discord.Embed


def _send_kwargs(reply: Reply) -> _SendKwargs:
    kwargs: _SendKwargs = {"content": reply.content, "allowed_mentions": NO_PINGS}
    if reply.embed is not None:
        kwargs["embed"] = reply.embed
    return kwargs


async def _replace(placeholder: discord.Message | None, where: discord.abc.Messageable, text: str) -> None:
    """Say `text` where the answer would have gone: over the draft (or place in line) when there is one."""
    if placeholder is not None:
        try:
            await placeholder.edit(content=text, embed=None, allowed_mentions=NO_PINGS)
            return
        except discord.HTTPException:
            log.warning("could not replace a draft; removing it", exc_info=True)
            await _quietly(placeholder.delete())
    await _say(where, text)


async def _say(channel: discord.abc.Messageable, text: str, reference: discord.Message | None = None) -> None:
    try:
        if reference is None:  # the same as passing reference=None, which discord.py's overloads do not admit
            await channel.send(text, allowed_mentions=NO_PINGS, mention_author=False)
        else:
            await channel.send(text, allowed_mentions=NO_PINGS, reference=reference, mention_author=False)
    except discord.HTTPException:
        log.warning("could not send a message", exc_info=True)


async def _react(message: discord.Message, emoji: str) -> None:
    try:
        await message.add_reaction(emoji)
    except discord.HTTPException:  # no Add Reactions permission: stay quiet rather than post in the channel
        log.info("could not react to a message in #%s", message.channel)


async def _quietly(action: object) -> None:
    """Await a Discord call whose failure only matters to the log (used while shutting down)."""
    try:
        await action  # type: ignore[misc]
    except (discord.HTTPException, RagbotError):
        log.warning("could not tell a member their question was interrupted", exc_info=True)


async def setup(bot: RagBot) -> None:
    """Load the cog (extension entry point)."""
    await bot.add_cog(AskCog(bot))
