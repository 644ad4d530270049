"""The one exception type whose message is meant for users."""

from __future__ import annotations


class RagbotError(Exception):
    """An expected failure; its message is one sentence shown to the user as is."""
