"""Fixtures for scale and hardening tests: a real Chroma server, a local article web server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from retrieval.embedding import Embedder
from retrieval.library import Library
from retrieval.settings import Settings
from tests.conftest import MODELS_DIR
from tests.scale.articles import ArticleServer
from tests.scale.helpers import free_port

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


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A real Chroma server (`chroma run`), started once per test session and stopped after it."""
    if not CHROMA.exists():
        pytest.fail(f"the chroma command line is missing ({CHROMA}); it ships with chromadb")
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    try:
        yield server
    finally:
        server.stop()


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


@pytest.fixture(params=["local", "server"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test using it runs twice: against Chroma on disk and against the Chroma server."""
    return str(request.param)


@pytest.fixture
def any_settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for the parametrized backend (the server is started only when needed)."""
    server = request.getfixturevalue("chroma_server") if backend == "server" else None
    return make_settings(backend, tmp_path, server)


@pytest.fixture
def any_library(any_settings: Settings, embedder: Embedder) -> Library:
    """An empty library on the parametrized backend."""
    return Library(any_settings, embedder=embedder)


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for a `ragbot` child process that opens the same library as `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGBOT_", "DISCORD_"))}
    env |= {
        "RAGBOT_DATA_DIR": str(settings.data_dir),
        "RAGBOT_MODEL_CACHE_DIR": str(MODELS_DIR),
        "RAGBOT_COLLECTION": settings.collection,
        "RAGBOT_GENERATOR": settings.generator,  # the parent's composer (the tests': extractive), not the default model
        "PYTHONUNBUFFERED": "1",
    }
    if settings.chroma_url:
        env["RAGBOT_CHROMA_URL"] = settings.chroma_url
    env |= extra
    return env


RAGBOT = Path(sys.executable).with_name("ragbot")


@pytest.fixture
def article_server() -> Iterator[ArticleServer]:
    """A real HTTP server on 127.0.0.1 with news pages, redirects and hostile answers."""
    server = ArticleServer()
    try:
        yield server
    finally:
        server.close()
