"""Strict fakes (`spec_set`) for what only Discord's servers provide: interactions and attachments."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock, create_autospec

import discord


def fake_interaction(*, guild_id: int | None = 1001, user_id: int = 2002, manage_guild: bool = False) -> Any:
    """A slash-command interaction whose responses are recorded; a misspelt attribute fails the test."""
    interaction = create_autospec(discord.Interaction, spec_set=True, instance=True)
    response = create_autospec(discord.InteractionResponse, spec_set=True, instance=True)
    state = {"done": False}

    def answered(*args: object, **kwargs: object) -> None:
        state["done"] = True

    response.is_done.side_effect = lambda: state["done"]
    for method in (response.defer, response.send_message, response.edit_message):
        method.side_effect = answered
    user = create_autospec(discord.Member, spec_set=True, instance=True)
    user.id = user_id
    user.bot = False
    interaction.response = response
    interaction.followup = create_autospec(discord.Webhook, spec_set=True, instance=True)
    interaction.user = user
    interaction.guild_id = guild_id
    interaction.permissions = discord.Permissions(manage_guild=manage_guild)
    interaction.command = None
    return interaction


def fake_attachment(filename: str, data: bytes) -> Any:
    """An uploaded file as Discord would hand it to a slash command."""
    attachment = create_autospec(discord.Attachment, spec_set=True, instance=True)
    attachment.filename = filename
    attachment.id = abs(hash(filename)) % 10**12
    attachment.size = len(data)
    attachment.read.return_value = data
    return attachment


def fake_message(attachments: list[Any], *, jump_url: str, message_id: int = 77) -> Any:
    """A message picked from a context menu, with its attached files."""
    message = create_autospec(discord.Message, spec_set=True, instance=True)
    message.id = message_id
    message.attachments = attachments
    message.jump_url = jump_url
    return message


def shown(interaction: Any) -> list[dict[str, Any]]:
    """Everything the member was shown, in order: initial responses, follow-ups and edits, as keyword dicts."""
    seen = []
    for mock in (
        interaction.response.send_message,
        interaction.followup.send,
        interaction.edit_original_response,
        interaction.response.edit_message,
    ):
        for call in mock.call_args_list:
            kwargs = dict(call.kwargs)
            if call.args:
                kwargs["content"] = call.args[0]
            seen.append(kwargs)
    return seen


def texts(interaction: Any) -> str:
    """All content and embed text the member was shown, joined."""
    out = []
    for kwargs in shown(interaction):
        out.append(str(kwargs.get("content") or ""))
        embed = kwargs.get("embed")
        if isinstance(embed, discord.Embed):
            out.append(f"{embed.title or ''}\n{embed.description or ''}")
    return "\n".join(out)


def is_mock(value: object) -> bool:
    """True for the fakes above (used to keep assertions honest about what was real)."""
    return isinstance(value, MagicMock)
