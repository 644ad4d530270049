"""The keyword index on disk, keyed by the collection's version token, so a fresh process need not rebuild it.

Building BM25 over every chunk (read all rows from Chroma, stem every word) is the biggest
part of a cold `ragbot ask` on a large library; loading the pickled snapshot takes a few
milliseconds. A snapshot is valid exactly while the collection's version token is unchanged
(every write bumps it), so staleness cannot happen; old files are removed when a new one is
written. The files live in the data dir, which only ragbot writes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = 4  # bump when the snapshot's shape changes


class SnapshotCache:
    """Pickled keyword snapshots of one collection in `folder`, one file per version token."""

    def __init__(self, folder: Path, location: str, collection: str) -> None:
        self.folder = folder
        key = hashlib.sha256(f"{FORMAT}|{location}|{collection}".encode()).hexdigest()[:16]
        self.prefix = f"{collection[:40]}-{key}-"

    def _path(self, version: str) -> Path:
        return self.folder / f"{self.prefix}{version}.pkl"

    def load(self, version: str) -> Any | None:
        """The snapshot stored for this version, or None (missing, unreadable or of another format)."""
        if not version:
            return None
        path = self._path(version)
        try:
            with path.open("rb") as fh:
                snap = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways; a bad file is only a cache miss
            log.debug("ignoring keyword snapshot %s: %s", path, exc)
            return None
        return snap if getattr(snap, "version", None) == version else None

    def save(self, snap: Any) -> None:
        """Store a snapshot atomically and drop the collection's older ones; failures only cost speed."""
        version = getattr(snap, "version", "")
        if not version:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{self.prefix}{os.getpid()}.tmp"
            with tmp.open("wb") as fh:
                pickle.dump(snap, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self._path(version))
            for old in self.folder.glob(f"{self.prefix}*.pkl"):
                if old.name != self._path(version).name:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            log.debug("could not cache the keyword snapshot: %s", exc)
