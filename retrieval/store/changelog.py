"""A library's change log, kept in Chroma beside its chunks: which documents each write touched.

Every write to a library appends an "intent" event (before touching Chroma) and a "done"
event (after), naming the documents. A keyword index anywhere (this process, another one on
this machine or elsewhere against the same Chroma server) catches up by re-reading only the
documents named in events it has not applied yet. Chroma has no counters, so an event is
ordered by its writer's clock (`at`, nanoseconds) and readers re-read a window of `SLACK`
before their watermark, skipping the events they already applied: an event stamped a little
earlier but stored a little later is not missed.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

LOG_SUFFIX = "--log"
SLACK_NS = 60 * 10**9  # clock skew between writers plus the time an event takes to land
RETAIN_NS = 30 * 24 * 3600 * 10**9  # events older than this are pruned; an index older than that rebuilds
PRUNE_EVERY = 200  # writes between prunes (pruning is one Chroma query)


@dataclass(frozen=True)
class Event:
    """One logged step of a write: `kind` "intent" (about to write) or "done" (written)."""

    event_id: str
    at: int
    write_id: str
    kind: str
    doc_ids: tuple[str, ...]
    host: str
    pid: int

    def writer_is_dead(self) -> bool:
        """True when the writer ran on this machine and its process is gone (its write will never finish)."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, someone else's
            return False
        return False


class ChangeLog:
    """The `NAME--log` collection: append events, read the ones after a moment, prune old ones."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name + LOG_SUFFIX
        self.col = client.get_or_create_collection(self.name, embedding_function=None, metadata={"kind": "changes"})
        self._writes = 0

    def new_write(self) -> str:
        """A fresh id for one write (its intent and done events share it)."""
        return uuid.uuid4().hex[:16]

    def append(self, kind: str, write_id: str, doc_ids: list[str]) -> Event:
        """Log one step of a write and return the event."""
        at = time.time_ns()
        event = Event(f"{at:020d}-{write_id}-{kind}", at, write_id, kind, tuple(doc_ids), socket.gethostname(), os.getpid())
        self.col.upsert(
            ids=[event.event_id],
            embeddings=[[1.0]],
            metadatas=[{"at": at, "write": write_id, "kind": kind, "docs": json.dumps(doc_ids), "host": event.host, "pid": event.pid}],
        )
        if kind == "done":
            self._writes += 1
            if self._writes % PRUNE_EVERY == 0:
                self.prune(at - RETAIN_NS)
        return event

    def event_ids_after(self, at: int) -> list[str]:
        """Ids of the events stamped after `at` (ids only: cheap to poll)."""
        return list(self.col.get(where={"at": {"$gt": int(at)}}, include=[])["ids"])

    def events(self, event_ids: list[str]) -> list[Event]:
        """These events in log order (oldest first)."""
        if not event_ids:
            return []
        got = self.col.get(ids=event_ids, include=["metadatas"])
        out = []
        for i, m in zip(got["ids"], got["metadatas"] or [], strict=True):
            m = m or {}
            out.append(
                Event(i, int(m.get("at", 0)), str(m.get("write", "")), str(m.get("kind", "")),
                      tuple(json.loads(str(m.get("docs", "[]")))), str(m.get("host", "")), int(m.get("pid", 0)))
            )
        return sorted(out, key=lambda e: (e.at, e.event_id))

    def pruned_before(self) -> int:
        """Events stamped before this moment may have been pruned (0: none ever were)."""
        fresh = self.client.get_collection(self.name, embedding_function=None)  # metadata read now, not when opened
        return int((fresh.metadata or {}).get("pruned_before", 0))

    def prune(self, before: int) -> None:
        """Drop events stamped before `before`, and record that readers older than that must rebuild."""
        meta = dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})
        meta["pruned_before"] = max(int(meta.get("pruned_before", 0)), int(before))
        self.col.modify(metadata=meta)
        self.col.delete(where={"at": {"$lt": int(before)}})
