"""Reads that survive another process's writes to the same on-disk Chroma.

Chroma on disk keeps each process's vector index in memory. After another process writes, a
long-lived reader's index lacks the new ids that the shared SQLite already lists, and every
read that touches them fails inside Chroma ("Error finding id", "Error getting embedding")
until the process opens the library afresh; reopening loads the index as written. So such a
read is repeated, a bounded number of times, on a freshly opened client.
"""

from __future__ import annotations

from typing import Any

READ_ATTEMPTS = 6
BACKOFF_SECONDS = 0.2  # doubled after each attempt: about 6 s in all

_STALE = ("Error finding id", "Error getting embedding")


def is_stale_read(exc: BaseException) -> bool:
    """Whether a failed Chroma call is this process's index lagging behind another process's write."""
    from chromadb.errors import InternalError

    return isinstance(exc, InternalError) and any(s in str(exc) for s in _STALE)


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
