"""Two processes with their own keyword indexes on one Chroma server (`chroma run`) see each other's writes.

Each keeps its index caught up from the change log in Chroma: the next question after the other's
write sees it, and neither rebuilds its index from every chunk to get there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from retrieval.embedding import Embedder
from retrieval.library import Library
from retrieval.store import keyword_sync
from retrieval.types import Document
from tests.support.chroma import ChromaServer, make_settings
from tests.support.helpers import HashingEmbedder
from tests.support.paths import ROOT

FERRY = Document("ferry", "ferry.txt", "The night ferry", "The night ferry to Stornoway leaves the harbour at eleven.")
OBSERVATORY = Document("observatory", "obs.txt", "The observatory", "The hilltop observatory reopened its brass telescope in May.")
FILLER = [Document(f"filler{i}", f"f{i}.txt", f"Notes {i}", f"Routine notes number {i} about gardening and weather.") for i in range(30)]


class Child:
    """The other process: a Library with its own data dir (its own index file), driven over stdin."""

    def __init__(self, data_dir: Path, url: str, collection: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.library_child", str(data_dir), url, collection],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert json.loads(self._line()) == {"ready": True}

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(self.proc.stderr.read() if self.proc.stderr else "child exited")
        return line

    def do(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self._line()))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def test_two_processes_see_each_others_writes(chroma_server: ChromaServer, tmp_path: Path, embedder: Embedder,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings("server", tmp_path / "here", chroma_server)
    here = Library(settings, embedder=HashingEmbedder(embedder.tokenizer))
    here.ingest_documents(FILLER)
    other = Child(tmp_path / "there", chroma_server.url, settings.collection)
    try:
        assert other.do(op="search", q="gardening notes")["rebuilds"] == 1  # a new index file, filled once
        here.search("gardening notes")

        def refuse(*_a: Any, **_k: Any) -> None:
            raise AssertionError("this process rebuilt its keyword index")

        monkeypatch.setattr(keyword_sync, "rebuild", refuse)

        here.ingest_documents([FERRY])
        t0 = time.perf_counter()
        got = other.do(op="search", q="night ferry Stornoway harbour")
        print(f"a write here was seen by the other process's next question {time.perf_counter() - t0:.3f} s after it ended")
        assert got["hits"][0] == "ferry" and got["rebuilds"] == 1

        other.do(op="ingest", doc=OBSERVATORY.__dict__)
        t0 = time.perf_counter()
        hits = here.search("hilltop observatory brass telescope", k=3)
        print(f"the other process's write was seen here {time.perf_counter() - t0:.3f} s after it ended")
        assert hits[0].doc_id == "observatory" and hits[0].text == OBSERVATORY.text

        other.do(op="forget", id="ferry")
        assert all(h.doc_id != "ferry" for h in here.search("night ferry Stornoway harbour", k=5))
        here.forget("observatory")
        got = other.do(op="search", q="hilltop observatory brass telescope")
        assert "observatory" not in got["hits"] and got["rebuilds"] == 1
    finally:
        other.close()
