"""A real Chroma server (`chroma run` on 127.0.0.1) and settings for a library on it or on disk."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from retrieval.settings import Settings
from tests.support.helpers import free_port
from tests.support.paths import MODELS_DIR

CHROMA = Path(sys.executable).with_name("chroma")


class ChromaServer:
    """A `chroma run` child process on 127.0.0.1 with its own data folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(folder / "db"), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"},
            )
        self._wait_ready()

    def _wait_ready(self, patience: float = 60.0) -> None:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"chroma run exited with {self.proc.returncode}:\n{self.log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"chroma run did not answer its heartbeat within {patience:.0f} s")

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def unique_collection() -> str:
    """A collection name no other test uses (tests share one server)."""
    return f"t{uuid.uuid4().hex[:16]}"


def make_settings(backend: str, tmp_path: Path, server: ChromaServer | None, **extra: object) -> Settings:
    """Settings for a library on disk ("local") or on the shared Chroma server ("server")."""
    values: dict[str, object] = {"data_dir": tmp_path / "data", "model_cache_dir": MODELS_DIR, **extra}
    if backend == "server":
        assert server is not None
        values |= {"chroma_url": server.url, "collection": unique_collection()}
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]
