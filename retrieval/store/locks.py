"""Inter-process locks for a library on disk: one writer at a time, and reads that never overlap a write step.

Chroma on disk is not safe for two writing processes: two ingests at once left libraries whose
every later question failed inside Chroma ("Error finding id"). So a process that writes holds
`writer.lock` (filelock) for the whole ingest or forget; another writer waits for it, saying
so, and gives up with one sentence after `WRITER_WAIT` seconds.

A reader in another process could still catch a write half-applied inside Chroma, so each
write step (one batch of chunks and registry records) holds `steps.lock` exclusively and each
question holds it shared: a question is answered from the library as it was before that step
or after it, and waits at most one step. A Chroma server needs neither lock: it serialises
its own writes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from retrieval.errors import RagbotError

WRITER_WAIT = 600.0  # seconds a second writer waits before giving up

try:
    import fcntl
except ImportError:  # Windows: no shared locks, so readers take the step lock one at a time
    fcntl = None  # type: ignore[assignment]


class LibraryLocks:
    """The locks of one on-disk library (its data dir); `notify` receives the one-sentence wait message."""

    def __init__(self, folder: Path, notify: Callable[[str], None], writer_wait: float = WRITER_WAIT) -> None:
        self.folder = folder
        self.notify = notify
        self.writer_wait = writer_wait

    def _path(self, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / name

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the writer lock (re-entrant within a thread), waiting for another process's write with a message."""
        path = self._path("writer.lock").resolve()
        held = _held("writers")
        if path in held:  # this thread is the writer already (through any Library)
            yield
            return
        lock = FileLock(path, thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            self.notify("Another ragbot process is writing to this library; waiting for it to finish…")
            try:
                lock.acquire(timeout=self.writer_wait)
            except Timeout:
                raise RagbotError(
                    f"Another ragbot process has been writing to this library for over {self.writer_wait:g} s; "
                    "try again when it has finished."
                ) from None
        held.add(path)
        try:
            yield
        finally:
            held.discard(path)
            lock.release()

    @contextmanager
    def step(self, shared: bool = False) -> Iterator[None]:
        """Hold the step lock: exclusively for a write step, shared for a read (re-entrant within a thread)."""
        path = self._path("steps.lock").resolve()
        held = _held("steps")
        if path in held:  # this thread holds it already (through any Library): flock would wait for itself
            yield
            return
        held.add(path)
        try:
            if fcntl is None:
                with FileLock(path, thread_local=False):
                    yield
                return
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                yield
            finally:
                with suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        finally:
            held.discard(path)


_THREAD = threading.local()


def _held(kind: str) -> set[Path]:
    """The locks of this kind ("writers", "steps") that this thread holds, whichever LibraryLocks took them."""
    if not hasattr(_THREAD, kind):
        setattr(_THREAD, kind, set())
    return getattr(_THREAD, kind)  # type: ignore[no-any-return]


class NoLocks:
    """For a Chroma server, which serialises writes itself."""

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Nothing to hold."""
        yield

    @contextmanager
    def step(self, shared: bool = False) -> Iterator[None]:
        """Nothing to hold."""
        yield
