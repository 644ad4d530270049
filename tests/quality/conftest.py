"""Fixtures for the quality tests: the whole SQuAD v1.1 dev corpus in one library."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.embedding import Embedder
from retrieval.library import Library
from retrieval.settings import Settings
from tests.support.paths import MODELS_DIR


@pytest.fixture(scope="session")
def squad_library(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, shared_data: Path) -> Iterator[Library]:
    """The whole SQuAD v1.1 dev corpus (2,067 passages) in one library, built once per session."""
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("squad"), model_cache_dir=MODELS_DIR, embed_backend="onnx", generator="extractive")  # type: ignore[call-arg]
    lib = Library(settings, embedder=embedder)
    report = lib.ingest([shared_data / "squad-v1.1-dev" / "passages.jsonl"])
    assert not report.problems and len(report.added) == 2067
    yield lib
