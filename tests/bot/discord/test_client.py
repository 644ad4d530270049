"""The bot's start-up: setup_hook, sync target, `main()` and `python -m bot`, and the last-resort error handler."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from unittest import mock

import discord
import pytest
from discord import app_commands
from pydantic import SecretStr

from bot.discord.client import RagBot, create_bot, default_intents, main, sync_target
from bot.discord.replies import APOLOGY, SHUTTING_DOWN
from bot.discord.settings import DiscordSettings
from retrieval.errors import RagbotError
from retrieval.library import Library
from tests.support.fakes import fake_interaction, shown, texts
from tests.support.paths import ROOT


async def test_setup_hook_loads_one_cog_per_feature_and_warms_the_engine(
    bot_settings: DiscordSettings, library: Library
) -> None:
    bot = create_bot(bot_settings, library, sync_commands=False)
    with mock.patch.object(library, "warm", wraps=library.warm) as warm:
        await bot.setup_hook()
    warm.assert_called_once_with()
    assert set(bot.cogs) == {"Ask", "Library"}
    assert sorted(c.name for c in bot.tree.get_commands()) == ["Add to library", "ask", "forget", "ingest", "sources"]
    assert (
        bot.tree.get_command("ask").description
        == "Ask a question about this server's articles; the answer cites its sources."
    )


def test_intents_and_allowed_mentions(bot_settings: DiscordSettings, library: Library) -> None:
    bot = create_bot(bot_settings, library)
    assert bot.intents.message_content and bot.intents.guilds and bot.intents.guild_messages
    assert not bot.intents.members and not bot.intents.presences
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert default_intents() == bot.intents


def test_commands_sync_to_the_dev_guild_when_set(settings: DiscordSettings) -> None:
    assert sync_target(settings) is None
    target = sync_target(settings.model_copy(update={"discord_dev_guild": 1234}))
    assert target is not None and target.id == 1234


def test_per_guild_collections_unless_shared(bot_settings: DiscordSettings, library: Library) -> None:
    assert create_bot(bot_settings, library).collection(42) == "guild-42"
    shared = bot_settings.model_copy(update={"shared_library": True})
    assert create_bot(shared, library).collection(42) == shared.collection


def test_missing_token_is_one_sentence(settings: DiscordSettings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(settings) == 1
    err = capsys.readouterr().err
    assert err.startswith("ragbot: DISCORD_TOKEN is not set") and err.count("\n") == 1 and "Traceback" not in err


def test_rejected_token_is_one_sentence_and_never_logged(
    settings: DiscordSettings,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.secret-looking.token-value"

    async def reject(self: Any, token: str) -> None:  # what Discord answers to a bad token (HTTP 401)
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(discord.http.HTTPClient, "static_login", reject)
    caplog.set_level(logging.DEBUG)
    assert main(settings.model_copy(update={"discord_token": SecretStr(token)})) == 1
    err = capsys.readouterr().err
    assert err.startswith("ragbot: Discord rejected the token") and err.count("\n") == 1 and "Traceback" not in err
    assert token not in err and token not in caplog.text


def test_python_m_bot_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RAGBOT_DISCORD_TOKEN")}
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        check=False,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("ragbot: DISCORD_TOKEN is not set") and "Traceback" not in done.stderr


async def test_unexpected_errors_are_logged_and_answered_with_an_apology(
    slash_bot: RagBot, caplog: pytest.LogCaptureFixture
) -> None:
    command = slash_bot.tree.get_command("ask")
    interaction = fake_interaction()
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError as exc:
        error = app_commands.CommandInvokeError(command, exc)
    await slash_bot.tree.on_error(interaction, error)
    assert shown(interaction) == [{"content": APOLOGY, "ephemeral": True, "allowed_mentions": mock.ANY}]
    [record] = [r for r in caplog.records if r.name == "ragbot.bot"]
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError and "Traceback" in caplog.text


async def test_expected_errors_show_their_message_after_a_deferral(
    slash_bot: RagBot, caplog: pytest.LogCaptureFixture
) -> None:
    command = slash_bot.tree.get_command("ask")
    interaction = fake_interaction()
    await interaction.response.defer(thinking=True)
    await slash_bot.tree.on_error(
        interaction, app_commands.CommandInvokeError(command, RagbotError("The library is closed."))
    )
    interaction.delete_original_response.assert_awaited_once()  # so the private message is not shown to everyone
    assert interaction.followup.send.call_args.kwargs == {
        "content": "The library is closed.",
        "ephemeral": True,
        "allowed_mentions": mock.ANY,
    }
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_permission_failures_are_polite(slash_bot: RagBot) -> None:
    interaction = fake_interaction()
    await slash_bot.tree.on_error(interaction, app_commands.MissingPermissions(["manage_guild"]))
    assert shown(interaction)[0]["content"] == "Sorry, only members with the Manage Server permission can do that."


SIGTERM_PROBE = """
import asyncio, sys
from bot.discord import client
from bot.discord.settings import DiscordSettings

async def start(self, token, *, reconnect=True):  # stands in for the gateway connection: runs until closed
    print("started", flush=True)
    while not self.is_closed():
        await asyncio.sleep(0.05)

real_close = client.RagBot.close

async def close(self):
    await real_close(self)
    print("closed", flush=True)

client.RagBot.start, client.RagBot.close = start, close
sys.exit(client.main(DiscordSettings(_env_file=None, discord_token="not-a-real-token")))
"""


def test_sigterm_closes_the_bot_and_exits_cleanly(tmp_path: Path) -> None:
    import signal

    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAGBOT_DATA_DIR": str(tmp_path / "data")}
    probe = subprocess.Popen(
        [sys.executable, "-c", SIGTERM_PROBE], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert probe.stdout is not None and probe.stdout.readline().strip() == "started"
        probe.send_signal(signal.SIGTERM)  # what systemd and `docker stop` send
        out, err = probe.communicate(timeout=60)
    finally:
        probe.kill()
    assert probe.returncode == 0, err
    assert out.strip() == "closed"


class BlockingLibrary(Library):
    """The real engine whose answers wait for the test's signal (a slow model, as seen from the bot)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.go = threading.Event()
        self.entered = threading.Event()

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        assert self.go.wait(timeout=30)
        return super().ask(*args, **kwargs)


async def _asking(bot: RagBot, interaction: Any) -> asyncio.Task[None]:
    cog = bot.get_cog("Ask")
    task = asyncio.create_task(cog.ask.callback(cog, interaction, "what exercises were mentioned?", False))
    while not bot.library.entered.is_set():  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
    return task


async def test_close_finishes_the_questions_in_flight_and_refuses_new_ones(bot_settings: DiscordSettings, embedder: Any) -> None:
    from tests.support.dpy import GUILD, add_sample

    library = BlockingLibrary(bot_settings, embedder=embedder)
    bot = create_bot(bot_settings, library, sync_commands=False)
    await bot.setup_hook()
    add_sample(library, bot.collection(GUILD))
    first = fake_interaction()
    asking = await _asking(bot, first)
    closing = asyncio.create_task(bot.close())
    while not bot.closing:
        await asyncio.sleep(0)
    late = fake_interaction(user_id=9)
    cog = bot.get_cog("Ask")
    await cog.ask.callback(cog, late, "where was the patrol?", False)
    assert shown(late) == [{"content": SHUTTING_DOWN, "ephemeral": True, "allowed_mentions": mock.ANY}]
    library.go.set()
    await asyncio.gather(asking, closing)
    assert "North Pacific" in first.followup.send.call_args.kwargs["content"], "the question in flight was answered"


async def test_a_question_that_cannot_finish_before_shutdown_is_told_so(bot_settings: DiscordSettings, embedder: Any) -> None:
    from tests.support.dpy import GUILD, add_sample

    library = BlockingLibrary(bot_settings, embedder=embedder)
    bot = create_bot(bot_settings, library, sync_commands=False)
    bot.shutdown_seconds = 0.2
    await bot.setup_hook()
    add_sample(library, bot.collection(GUILD))
    interaction = fake_interaction()
    asking = await _asking(bot, interaction)
    try:
        await bot.close()
    finally:
        library.go.set()
    assert asking.cancelled()
    assert texts(interaction) == SHUTTING_DOWN, "told privately, not left with 'The application did not respond'"


async def test_commands_are_synced_when_they_changed_or_when_asked_not_on_every_start(
    bot_settings: DiscordSettings, library: Library
) -> None:
    async def started(sync: bool | None = None, extra: app_commands.Command | None = None) -> int:
        bot = create_bot(bot_settings, library, sync_commands=sync)
        if extra is not None:
            bot.tree.add_command(extra)
        with mock.patch.object(bot.tree, "sync", mock.AsyncMock(return_value=[])) as sync_call:
            await bot.setup_hook()
        return sync_call.await_count

    @app_commands.command(name="ping")
    async def ping(interaction: discord.Interaction) -> None:
        """Answer pong."""

    assert await started() == 1, "the first start syncs: Discord has never seen these commands"
    assert await started() == 0, "an unchanged command set is not synced again"
    assert await started(extra=ping) == 1, "a new command is synced"
    assert await started(extra=ping) == 0
    assert await started(sync=True, extra=ping) == 1, "ragbot bot --sync forces it"
    assert await started(sync=False) == 0


def test_ragbot_bot_sync_flag_reaches_the_bot(settings: DiscordSettings) -> None:
    from bot.cli import commands as cli

    with mock.patch("bot.discord.client.main", return_value=0) as bot_main:
        assert cli.cmd_bot(cli.build_parser().parse_args(["bot", "--sync"]), settings) == 0
        assert cli.cmd_bot(cli.build_parser().parse_args(["bot"]), settings) == 0
    assert [c.kwargs["sync"] for c in bot_main.call_args_list] == [True, False]


def test_message_content_is_optional_and_sharding_is_a_setting(bot_settings: DiscordSettings, library: Library) -> None:
    from discord.ext import commands

    plain = create_bot(bot_settings.model_copy(update={"discord_message_content": False}), library)
    assert not plain.intents.message_content and plain.intents.guild_messages and plain.intents.guilds
    assert not isinstance(plain, commands.AutoShardedBot)
    sharded = create_bot(bot_settings.model_copy(update={"discord_shards": 4}), library)
    assert isinstance(sharded, commands.AutoShardedBot) and sharded.shard_count == 4
    assert create_bot(bot_settings.model_copy(update={"discord_shards": 0}), library).shard_count is None  # Discord's
