"""Reads that survive another process's writes to the same on-disk Chroma, and a Chroma server that goes away.

Chroma on disk keeps each process's vector index in memory. After another process writes, a
long-lived reader's index lacks the new ids that the shared SQLite already lists, and every
read that touches them fails inside Chroma ("Error finding id", "Error getting embedding")
until the process opens the library afresh; reopening loads the index as written. So such a
read is repeated, a bounded number of times, on a freshly opened client.

A Chroma server that stops answering (restarted, or its connection dropped mid-request) is
retried with backoff for RAGBOT_CHROMA_RETRY_SECONDS, the user being told once in one sentence;
after that the read fails with one sentence, and the next one tries again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from retrieval.errors import RagbotError

T = TypeVar("T")

READ_ATTEMPTS = 6
BACKOFF_SECONDS = 0.2  # doubled after each attempt: about 6 s in all

_STALE = ("Error finding id", "Error getting embedding")


class StaleView(Exception):
    """This process's Chroma index predates another process's write (found by the collection's version, not by an error)."""


def is_stale_read(exc: BaseException) -> bool:
    """Whether a failed Chroma call is this process's index lagging behind another process's write."""
    from chromadb.errors import InternalError

    return isinstance(exc, StaleView) or (isinstance(exc, InternalError) and any(s in str(exc) for s in _STALE))


def forget_shared_system(client: Any) -> None:
    """Make the next on-disk client for this path open the library afresh instead of reusing this one's state.

    chromadb shares one System per path in a process (`SharedSystemClient`); dropping it from
    that cache is the only way to reload the index without restarting. The old system is left
    running for whoever still holds it (they reopen in turn when their reads fail).
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    identifier = getattr(client, "_identifier", None)
    if identifier is not None:
        SharedSystemClient._identifier_to_system.pop(identifier, None)
        SharedSystemClient._identifier_to_refcount.pop(identifier, None)


def is_server_away(exc: BaseException) -> bool:
    """Whether a failed call (or what it wraps) is a Chroma server that could not be reached or hung up."""
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (httpx.TransportError, ConnectionError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def read_with_recovery(
    read: Callable[[], T], reopen: Callable[[], None], notify: Callable[[str], None], server: str | None,
    server_wait: float,
) -> T:
    """`read()`, repeated on a reopened client when it was stale, and for up to `server_wait` s while the server is away."""
    stale = 0
    waited_since: float | None = None
    pause = 0.25
    while True:
        try:
            return read()
        except Exception as exc:
            if is_stale_read(exc) and stale < READ_ATTEMPTS - 1:
                reopen()
                time.sleep(BACKOFF_SECONDS * 2**stale)
                stale += 1
                continue
            if server is None or not is_server_away(exc):
                raise
            now = time.monotonic()
            if waited_since is None:
                waited_since = now
                notify(f"The Chroma server at {server} is not answering; retrying for up to {server_wait:g} s…")
            left = server_wait - (now - waited_since)
            if left <= 0:
                raise RagbotError(
                    f"The Chroma server at {server} (RAGBOT_CHROMA_URL) did not answer for {server_wait:g} s; "
                    "check that it is running."
                ) from exc
            time.sleep(min(pause, left))
            pause = min(pause * 2, 2.0)


def shown_url(url: str) -> str:
    """A server URL as shown to users: scheme, host and port only (never a user:password@)."""
    from urllib.parse import urlparse

    parts = urlparse(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
