"""The bot's start-up: setup_hook, sync target, `main()` and `python -m bot`, and the last-resort error handler."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import discord
import pytest
from discord import app_commands
from pydantic import SecretStr

from bot.client import RagBot, create_bot, default_intents, main, sync_target
from bot.replies import APOLOGY
from retrieval.errors import RagbotError
from retrieval.library import Library
from retrieval.settings import Settings
from tests.bot.fakes import fake_interaction, shown

ROOT = Path(__file__).resolve().parents[2]


async def test_setup_hook_loads_one_cog_per_feature_and_warms_the_engine(
    bot_settings: Settings, library: Library
) -> None:
    bot = create_bot(bot_settings, library, sync_commands=False)
    with mock.patch.object(library, "warm", wraps=library.warm) as warm:
        await bot.setup_hook()
    warm.assert_called_once_with()
    assert set(bot.cogs) == {"Ask", "Library"}
    assert sorted(c.name for c in bot.tree.get_commands()) == ["ask", "forget", "ingest", "sources"]
    assert (
        bot.tree.get_command("ask").description
        == "Ask a question about this server's articles; the answer cites its sources."
    )


def test_intents_and_allowed_mentions(bot_settings: Settings, library: Library) -> None:
    bot = create_bot(bot_settings, library)
    assert bot.intents.message_content and bot.intents.guilds and bot.intents.guild_messages
    assert not bot.intents.members and not bot.intents.presences
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert default_intents() == bot.intents


def test_commands_sync_to_the_dev_guild_when_set(settings: Settings) -> None:
    assert sync_target(settings) is None
    target = sync_target(settings.model_copy(update={"discord_dev_guild": 1234}))
    assert target is not None and target.id == 1234


def test_per_guild_collections_unless_shared(bot_settings: Settings, library: Library) -> None:
    assert create_bot(bot_settings, library).collection(42) == "guild-42"
    shared = bot_settings.model_copy(update={"shared_library": True})
    assert create_bot(shared, library).collection(42) == shared.collection


def test_missing_token_is_one_sentence(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(settings) == 1
    err = capsys.readouterr().err
    assert err.startswith("ragbot: DISCORD_TOKEN is not set") and err.count("\n") == 1 and "Traceback" not in err


def test_rejected_token_is_one_sentence_and_never_logged(
    settings: Settings,
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
