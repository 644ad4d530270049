"""Which library a server's questions and documents go to."""

from __future__ import annotations

from bot.discord.settings import DiscordSettings


def collection_for(settings: DiscordSettings, guild_id: int | None) -> str:
    """`guild-<id>` for each server, or the default collection when the library is shared (or outside servers)."""
    if settings.shared_library or guild_id is None:
        return settings.collection
    return f"guild-{guild_id}"
