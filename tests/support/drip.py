"""A web server on 127.0.0.1 that sends a byte a second (raw sockets, so the pace is exact)."""

from __future__ import annotations

import socket
import threading
import time

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
