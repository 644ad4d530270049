"""The one exception type whose message is meant for users."""

from __future__ import annotations


class RagbotError(Exception):
    """An expected failure; its message is one sentence shown to the user as is."""


class LibraryEmpty(RagbotError):
    """A question or search met a library holding no documents; front ends say how to add some."""

    def __init__(self, collection: str) -> None:
        self.collection = collection
        super().__init__(f"The library {collection!r} is empty: add articles with `ragbot ingest PATH_OR_URL` first.")
