"""Bot fixtures: the real bot on the real engine, driven by dpytest (with thread support added to its fake server)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend

from bot.discord.client import RagBot, create_bot, default_intents
from bot.discord.settings import DiscordSettings
from retrieval import Library, Settings
from tests.support.dpy import GUILD, add_sample


@pytest.fixture
def settings(settings: Settings) -> DiscordSettings:
    """The engine's test settings (the parent fixture) as the bot's, which add the Discord ones."""
    return DiscordSettings(_env_file=None, **settings.model_dump())  # type: ignore[call-arg]


@pytest.fixture
def bot_settings(settings: DiscordSettings) -> DiscordSettings:
    """Test settings without the per-user cooldown (tests of the cooldown set their own), answering extractively."""
    return settings.model_copy(update={"cooldown_seconds": 0.0, "generator": "extractive"})


@pytest.fixture
def payloads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the bot sent to Discord's HTTP API (message payloads), recorded; also teaches dpytest about threads.

    dpytest 0.7 has no thread endpoint: starting a thread from a message raises NotImplementedError. The patch
    below does what Discord does — create the thread (id = the message's id) and send THREAD_CREATE to the bot's
    real discord.py state — so threads are then handled by discord.py's own code (cache, send, history).
    """
    recorded: list[dict[str, Any]] = []
    real_send = backend.FakeHttp.send_message
    real_edit = backend.FakeHttp.edit_message

    # dpytest reads its caller's local variables (`channel`, `self`) to find the objects involved, so these
    # wrappers re-expose the caller's locals of those names before delegating.
    async def send_message(http: backend.FakeHttp, channel_id: int, *, params: Any) -> Any:
        channel = sys._getframe(1).f_locals.get("channel")  # noqa: F841 (read by dpytest)
        recorded.append({"channel_id": channel_id, **(params.payload or {})})
        return await real_send(http, channel_id, params=params)

    async def edit_message(http: backend.FakeHttp, channel_id: int, message_id: int, **fields: Any) -> Any:
        self = sys._getframe(1).f_locals.get("self")  # noqa: F841 (read by dpytest: the message edited)
        recorded.append({"channel_id": channel_id, "edit": message_id, **(fields["params"].payload or {})})
        return await real_edit(http, channel_id, message_id, **fields)

    async def start_thread_with_message(
        self: backend.FakeHttp,
        channel_id: int,
        message_id: int,
        *,
        name: str,
        auto_archive_duration: int,
        rate_limit_per_user: int | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        channel = self.state.get_channel(channel_id)
        assert isinstance(channel, discord.TextChannel), "threads start from messages in text channels"
        data = {
            "id": message_id,
            "guild_id": channel.guild.id,
            "parent_id": channel_id,
            "owner_id": self.state.user.id,
            "name": name,
            "type": discord.ChannelType.public_thread.value,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": rate_limit_per_user or 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": auto_archive_duration,
                "archive_timestamp": dt.datetime.now(dt.UTC).isoformat(),
                "locked": False,
            },
            "newly_created": True,
        }
        self.state.parse_thread_create(data)
        return data

    real_reaction_add = discord.state.ConnectionState.parse_message_reaction_add

    def parse_message_reaction_add(state: Any, data: dict[str, Any]) -> None:
        # dpytest 0.7's reaction events lack fields that discord.py 2.7 reads
        data.setdefault("type", 0)
        data.setdefault("burst", False)
        real_reaction_add(state, data)

    monkeypatch.setattr(discord.state.ConnectionState, "parse_message_reaction_add", parse_message_reaction_add)
    monkeypatch.setattr(backend.FakeHttp, "send_message", send_message)
    monkeypatch.setattr(backend.FakeHttp, "edit_message", edit_message)
    monkeypatch.setattr(backend.FakeHttp, "start_thread_with_message", start_thread_with_message, raising=False)
    return recorded


@pytest.fixture
async def make_dpy_bot(payloads: list[dict[str, Any]]) -> AsyncIterator[Any]:
    """Build a bot on the given engine, wired to dpytest with two servers (one text channel, two members each)."""
    bots: list[RagBot] = []

    async def build(settings: DiscordSettings, library: Library) -> RagBot:
        # dpytest's fake server finds members (and so mentions) through the member cache, which needs the
        # members intent; the real bot does without it.
        intents = default_intents(settings.discord_message_content)
        intents.members = True
        bot = create_bot(settings, library, sync_commands=False, intents=intents)
        dpytest.configure(bot, guilds=2, text_channels=1, voice_channels=0, members=2)
        await bot._async_setup_hook()  # binds the bot (and dpytest's state) to this test's event loop, as login() would
        await bot.setup_hook()
        bots.append(bot)
        return bot

    yield build
    await dpytest.empty_queue()
    for bot in bots:
        bot.ws = None  # dpytest's fake gateway has no socket to close
        await bot.close()


@pytest.fixture
async def dpy_bot(make_dpy_bot: Any, bot_settings: DiscordSettings, library: Library) -> RagBot:
    """The bot, dpytest-driven, over a library in which the first test server holds the sample article."""
    bot = await make_dpy_bot(bot_settings, library)
    add_sample(library, bot.collection(dpytest.get_config().guilds[0].id))
    return bot


@pytest.fixture
async def slash_bot(bot_settings: DiscordSettings, library: Library) -> AsyncIterator[RagBot]:
    """The bot with its cogs loaded and the engine warmed (setup_hook without the sync), not connected."""
    bot = create_bot(bot_settings, library, sync_commands=False)
    await bot._async_setup_hook()
    await bot.setup_hook()
    yield bot
    await bot.close()


@pytest.fixture
def sample_guild(slash_bot: RagBot, library: Library) -> int:
    """A server id whose library holds the sample article."""
    add_sample(library, slash_bot.collection(GUILD))
    return GUILD
