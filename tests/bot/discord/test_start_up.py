"""`ragbot bot` start-up as a new user meets it: no voice warnings, and a plain sentence when Discord is unreachable."""

from __future__ import annotations

import logging

import discord
import pytest
from pydantic import SecretStr

from bot.discord.client import create_bot, main
from bot.discord.settings import DiscordSettings
from retrieval.library import Library


def test_no_voice_warnings_since_the_bot_uses_no_voice(
    bot_settings: DiscordSettings, library: Library, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)  # as in a fresh process without PyNaCl
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    caplog.set_level(logging.WARNING)
    create_bot(bot_settings, library)
    assert "voice" not in caplog.text


def test_discord_unreachable_is_one_plain_sentence(
    settings: DiscordSettings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 9 here: the connection fails as it does without a network, offline.
    monkeypatch.setattr(discord.http.Route, "BASE", "http://127.0.0.1:9/api/v10")
    token = SecretStr("MTIzNDU2Nzg5MDEyMzQ1Njc4.secret-looking.token-value")
    assert main(settings.model_copy(update={"discord_token": token})) == 1
    err = capsys.readouterr().err
    assert err.startswith("ragbot: could not reach Discord") and "check the network connection" in err
    assert err.count("\n") == 1 and "Traceback" not in err and "unexpected error" not in err
