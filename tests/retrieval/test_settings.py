import re

from bot.discord.settings import DiscordSettings
from retrieval.settings import Settings
from tests.support.paths import ROOT


def _env_name(name: str) -> str:
    field = DiscordSettings.model_fields[name]
    alias = field.validation_alias
    return alias.choices[0] if alias is not None else f"RAGBOT_{name.upper()}"  # type: ignore[union-attr]


def test_env_example_lists_every_setting_with_a_comment() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_0-9]+)=", text, re.MULTILINE))
    assert listed == {_env_name(n) for n in DiscordSettings.model_fields}  # the engine's settings and the bot's
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z_0-9]+=", line):
            assert lines[i - 1].startswith("#"), f"{line} has no comment above it"


def test_env_example_parses_to_the_defaults() -> None:
    from_example = DiscordSettings(_env_file=str(ROOT / ".env.example"))  # type: ignore[call-arg]
    defaults = DiscordSettings(_env_file=None)  # type: ignore[call-arg]
    assert from_example.model_dump() == defaults.model_dump()


def test_environment_overrides_and_token_alias(monkeypatch) -> None:
    monkeypatch.setenv("RAGBOT_K", "7")
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def")
    s = DiscordSettings(_env_file=None)  # type: ignore[call-arg]
    assert s.k == 7
    assert s.discord_token is not None and s.discord_token.get_secret_value() == "abc.def"
    assert "abc.def" not in repr(s)


def test_the_engine_settings_know_nothing_of_discord() -> None:
    bot_only = set(DiscordSettings.model_fields) - set(Settings.model_fields)
    assert {"discord_token", "max_concurrent_questions", "shared_library", "log_content"} <= bot_only
    assert not any("discord" in name for name in Settings.model_fields)
