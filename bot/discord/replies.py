"""Answering an interaction exactly once, and showing errors privately."""

from __future__ import annotations

import logging

import discord

from bot.discord.render import NO_PINGS

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on my side. The error has been logged; please try again later."
SHUTTING_DOWN = "Sorry, I'm restarting and could not finish this answer; please ask again in a minute."


async def send_private(interaction: discord.Interaction, text: str) -> None:
    """Show `text` to the invoking member only, whether or not the interaction was already answered or deferred."""
    if not interaction.response.is_done():
        await interaction.response.send_message(content=text, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    # The first follow-up after a public defer would replace the public "thinking…" message; remove it first
    # so that the error is shown to the member alone.
    try:
        await interaction.delete_original_response()
    except discord.HTTPException:
        log.debug("could not delete the deferred response", exc_info=True)
    await interaction.followup.send(content=text, ephemeral=True, allowed_mentions=NO_PINGS)
