"""A web server that sends a byte a second cannot hold an ingest: the whole download is bounded by time.

Real servers on 127.0.0.1 (raw sockets, so the pace is exact): one drips the body, one drips
the headers. RAGBOT_FETCH_TIMEOUT bounds the whole download, not each read.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.fetch import Fetcher, FetchRefused
from retrieval.settings import Settings
from tests.test_hostile import one_sentence, run

BODY = b"<html><body><p>The slow page.</p></body></html>"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)


class DripServer:
    """Answers each connection by sending the headers and body one byte a second (or the headers at once)."""

    def __init__(self, drip_headers: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.drip_headers = drip_headers
        self.closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            if not self.drip_headers:
                conn.sendall(HEAD)
            for byte in (HEAD if self.drip_headers else b"") + BODY:
                if self.closed.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(1.0)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


@pytest.fixture(params=[False, True], ids=["body-drip", "header-drip"])
def drip(request: pytest.FixtureRequest) -> Iterator[DripServer]:
    server = DripServer(drip_headers=request.param)
    try:
        yield server
    finally:
        server.close()


def test_a_slow_server_is_given_up_on_within_the_total_timeout(drip: DripServer, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, fetch_timeout=2, allowed_hosts=["127.0.0.1"])  # type: ignore[call-arg]
    with pytest.raises(FetchRefused, match=r"took longer than 2 s in all to download \(RAGBOT_FETCH_TIMEOUT\)"):
        Fetcher(settings).fetch(f"http://127.0.0.1:{drip.port}/slow.html")


def test_cli_ingest_from_a_slow_server_says_so(tmp_path: Path) -> None:
    server = DripServer(drip_headers=False)
    try:
        done = run(["ingest", f"http://127.0.0.1:{server.port}/slow.html"], tmp_path / "data",
                   RAGBOT_FETCH_TIMEOUT="2", RAGBOT_ALLOWED_HOSTS="127.0.0.1")
    finally:
        server.close()
    assert done.returncode == 1
    assert "took longer than 2 s in all to download" in one_sentence(done.stderr)
