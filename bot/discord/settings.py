"""The Discord bot's settings: the engine's, plus the token, intents, sharding and the question queue."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr

from retrieval import Settings


class DiscordSettings(Settings):
    """Every engine setting, and what only `ragbot bot` reads (environment variables as in `.env.example`)."""

    discord_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DISCORD_TOKEN", "RAGBOT_DISCORD_TOKEN"),
        description="Bot token (DISCORD_TOKEN); required by `ragbot bot`.",
    )
    discord_dev_guild: int | None = Field(
        None,
        validation_alias=AliasChoices("DISCORD_DEV_GUILD", "RAGBOT_DISCORD_DEV_GUILD"),
        description="Sync slash commands to this guild only (instant); unset = global.",
    )
    shared_library: bool = Field(False, description="One library for all servers instead of one per server.")
    max_concurrent_questions: int = Field(2, ge=1, description="Questions answered at once; others queue.")
    max_queued_questions: int = Field(100, ge=1, description="Questions that may wait their turn.")
    cooldown_seconds: float = Field(3.0, ge=0, description="Per-user pause between questions.")
    discord_message_content: bool = Field(
        True,
        description="Ask Discord for the privileged Message Content intent (thread follow-ups without a mention); "
        "mentions and slash commands work without it.",
    )
    discord_shards: int | None = Field(
        None,
        ge=0,
        description="Run sharded with this many gateway shards (0 = as many as Discord recommends; "
        "Discord requires sharding from 2,500 servers); unset = one connection.",
    )
    log_content: bool = Field(False, description="Put the questions' text in the bot's log lines.")
