"""Shared fixtures: a real embedding model (exported to ONNX once per checkout), real Chroma on disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from retrieval.embedding import Embedder, load_embedder
from retrieval.ingest.loaders import SAMPLE_DOC_ID
from retrieval.library import Library
from retrieval.settings import Settings
from tests.support.paths import MODELS_DIR, ROOT, SHARED_DATA

_SCRUBBED = ("DISCORD_TOKEN", "DISCORD_DEV_GUILD")
_OUTSIDE = str(ROOT.parent / "shared")


def _no_reads_outside_the_checkout(event: str, args: tuple) -> None:
    """Fail any test that opens the project's sibling `shared/` folder: a user's clone has none."""
    if event == "open" and isinstance(args[0], str | Path) and str(args[0]).startswith(_OUTSIDE + os.sep):
        raise PermissionError(f"tests must not read {args[0]}: vendor what they need into the repository (data/)")


sys.addaudithook(_no_reads_outside_the_checkout)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own folder with its own data dir; no real `.env`, token or home is used."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in list(os.environ):
        if name.startswith("RAGBOT_") and name not in ("RAGBOT_TEST_MODELS", "RAGBOT_TEST_CHROMA_URL"):
            monkeypatch.delenv(name)
    for name in _SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAGBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGBOT_MODEL_CACHE_DIR", str(MODELS_DIR))
    # The shared `embedder` fixture is fp32 ONNX; libraries opened from settings must agree with it.
    monkeypatch.setenv("RAGBOT_EMBED_BACKEND", "onnx")
    # Tests answer with the extractive composer unless they ask for the local model (tests/retrieval/answer/, the slow end-to-end tests).
    monkeypatch.setenv("RAGBOT_GENERATOR", "extractive")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled all-MiniLM-L6-v2 through ONNX Runtime (the default backend), loaded once."""
    return load_embedder(None, "onnx", MODELS_DIR)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at this test's data dir."""
    return Settings(_env_file=None, data_dir=tmp_path / "data", model_cache_dir=MODELS_DIR, embed_backend="onnx", generator="extractive")  # type: ignore[call-arg]


@pytest.fixture
def library(settings: Settings, embedder: Embedder) -> Library:
    """An empty library on a real on-disk Chroma."""
    return Library(settings, embedder=embedder)


@pytest.fixture
def sample_library(library: Library) -> Library:
    """A library holding the bundled sample article."""
    report = library.ingest_sample()
    assert report.added == [SAMPLE_DOC_ID]
    return library


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The vendored data folder (SQuAD v1.1 dev)."""
    if not (SHARED_DATA / "squad-v1.1-dev" / "passages.jsonl").exists():
        pytest.fail(f"the vendored SQuAD data is missing from {SHARED_DATA}")
    return SHARED_DATA
