"""Ingest reads regular files only, reads at most the byte limit, and reports a corpus's repeated ids.

A named pipe, /dev/zero, a device or a socket gets one sentence and never hangs or fills
memory; reads are bounded by the bytes actually read, not the size a file reports; a JSONL
corpus that repeats an id names both lines and follows `--duplicates` (keep or skip).
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path

from retrieval.ingest.loaders import load_file
from retrieval.library import Library
from tests.support.hostile import write_repeated_id_corpus
from tests.support.paths import ROOT


def _capped() -> None:
    """Run the child with 1 GB of address space: reading /dev/zero to the end fails fast instead of filling memory."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_special_files_get_one_sentence_and_never_hang(tmp_path: Path) -> None:
    fifo, sock_path = tmp_path / "fifo.txt", tmp_path / "sock.txt"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        code = (
            "import sys, json; from pathlib import Path; from retrieval.ingest.loaders import load_sources\n"
            "print(json.dumps([str(l.problem) for l in load_sources(sys.argv[1:], 1_000_000)]))\n"
        )
        done = subprocess.run([sys.executable, "-c", code, str(fifo), "/dev/zero", str(sock_path), "/dev/null"],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=60, preexec_fn=_capped, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        problems = json.loads(done.stdout)
    finally:
        sock.close()
    assert problems == [
        f"{fifo}: it is a named pipe, not a regular file; only regular files are read.",
        "/dev/zero: it is a character device, not a regular file; only regular files are read.",
        f"{sock_path}: it is a socket, not a regular file; only regular files are read.",
        "/dev/null: it is a character device, not a regular file; only regular files are read.",
    ]


def test_reads_are_bounded_by_bytes_read_not_the_reported_size() -> None:
    status = Path("/proc/self/status")  # a regular file that reports 0 bytes yet holds more than 100
    assert status.stat().st_size == 0
    (loaded,) = list(load_file(status, 100))
    assert loaded.document is None and loaded.problem is not None
    assert loaded.problem.message == "the file holds more than 100 bytes, over the 100-byte limit (RAGBOT_MAX_FILE_BYTES)."
    (whole,) = list(load_file(status, 1_000_000))
    assert whole.document is not None and "Name:" in whole.document.text



def test_a_repeated_corpus_id_is_reported_with_both_lines_and_follows_duplicates(library: Library, tmp_path: Path) -> None:
    corpus = write_repeated_id_corpus(tmp_path)
    kept = library.ingest([corpus], duplicates="keep")
    assert [str(d) for d in kept.duplicates] == [
        f"{corpus}, line 3: the id 'ferry' repeats line 1; the later line replaces it (--duplicates keep)."
    ]
    assert "second ferry" in (library.document_text("ferry") or "")
    library.forget("ferry")
    library.forget("canal")
    skipped = library.ingest([corpus], duplicates="skip")
    assert [str(d) for d in skipped.duplicates] == [
        f"{corpus}, line 3: the id 'ferry' repeats line 1; line 3 is skipped (--duplicates skip)."
    ]
    assert "first ferry" in (library.document_text("ferry") or "")
    assert {"line": 3, "first_line": 1, "action": "skipped"}.items() <= skipped.duplicates[0].to_json().items()
