"""Fixtures for integration tests: a real Chroma server, a local article web server, both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.embedding import Embedder
from retrieval.library import Library
from retrieval.settings import Settings
from tests.support.articles import ArticleServer
from tests.support.chroma import CHROMA, ChromaServer, make_settings


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


@pytest.fixture
def article_server() -> Iterator[ArticleServer]:
    """A real HTTP server on 127.0.0.1 with news pages, redirects and hostile answers."""
    server = ArticleServer()
    try:
        yield server
    finally:
        server.close()
