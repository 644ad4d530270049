"""The default answer model for tests that run it: skipped when absent, or failed when RAGBOT_REQUIRE_LLM is set."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tests.support.paths import MODELS_DIR

# Read at import time: the autouse fixture of the root conftest removes RAGBOT_* variables from each test.
REQUIRE_LLM = bool(os.environ.get("RAGBOT_REQUIRE_LLM"))


def require_llama_cpp() -> None:
    """Skip when llama-cpp-python is absent, unless RAGBOT_REQUIRE_LLM is set: then fail."""
    if importlib.util.find_spec("llama_cpp") is None:
        if REQUIRE_LLM:
            pytest.fail("RAGBOT_REQUIRE_LLM is set but llama-cpp-python is not installed: pip install -e '.[llm]'")
        pytest.skip("llama-cpp-python is not installed (pip install -e '.[llm]'; set RAGBOT_REQUIRE_LLM=1 to fail instead)")


def default_model() -> Path:
    """The default answer model (Qwen2.5-Coder-1.5B), assembled into the tests' model cache; skipped or failed when absent."""
    from retrieval.errors import RagbotError
    from retrieval.llm import gguf

    require_llama_cpp()
    try:
        return gguf.assemble(gguf.PACKAGED[gguf.DEFAULT_MODEL], MODELS_DIR)
    except RagbotError as exc:
        if REQUIRE_LLM:
            pytest.fail(f"RAGBOT_REQUIRE_LLM is set but {exc}")
        pytest.skip(str(exc))
