"""Generated answers out of the box: the packaged model is assembled from its slices and checked, and without it
ragbot says so once and answers extractively.

The end-to-end runs of the real default model with the settings a user gets are slow tests:
tests/quality/test_default_model.py (the command line) and tests/bot/discord/test_default_model.py (a mention).
They skip without llama-cpp-python or the model, and fail instead under RAGBOT_REQUIRE_LLM.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.errors import RagbotError
from retrieval.ingest.loaders import SAMPLE_ARTICLE
from retrieval.library import Library
from retrieval.llm import gguf
from retrieval.settings import Settings
from tests.support.llm import default_model
from tests.support.paths import MODELS_DIR


def _sliced_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, sha256: str) -> gguf.PackagedModel:
    """A small model published as three installed slice packages (real packages on sys.path)."""
    site = tmp_path / "site"
    for i, piece in enumerate((data[:5], data[5:9], data[9:]), 1):
        folder = site / f"tiny_model_part{i}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        (folder / f"part{i:02d}.bin").write_bytes(piece)
    monkeypatch.syspath_prepend(str(site))
    return gguf.PackagedModel("tiny", "Tiny model", "tiny-model-part", "1.0", 3, len(data), sha256)


def test_slices_are_assembled_once_checked_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"GGUF" + bytes(range(40))
    model = _sliced_model(tmp_path, monkeypatch, data, hashlib.sha256(data).hexdigest())
    path = gguf.assemble(model, tmp_path / "cache")
    assert path.read_bytes() == data and path.name == "tiny.gguf"
    before = path.stat().st_mtime_ns
    assert gguf.assemble(model, tmp_path / "cache") == path and path.stat().st_mtime_ns == before  # not written again
    path.write_bytes(data[:-1] + b"x")  # changed on disk: checked again, and rebuilt from the slices
    assert gguf.assemble(model, tmp_path / "cache").read_bytes() == data


def test_a_mismatching_assembly_is_refused_in_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"GGUF" + bytes(range(40))
    model = _sliced_model(tmp_path, monkeypatch, data, "0" * 64)
    with pytest.raises(RagbotError, match=r"^The Tiny model model assembled from its packages is 44 bytes .* reinstall it with `make install`\.$"):
        gguf.assemble(model, tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir()), "nothing half-made is left behind"


def test_missing_slices_are_named(tmp_path: Path) -> None:
    model = gguf.PackagedModel("absent", "Absent model", "absent-model-part", "1.0", 2, 10, "0" * 64)
    with pytest.raises(RagbotError, match=r"2 of its 2 packages are missing, e\.g\. absent-model-part1==1\.0\): run `make install`"):
        gguf.assemble(model, tmp_path)


def test_the_default_is_the_packaged_model_and_its_file_checks_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAGBOT_GENERATOR")  # set to extractive for the rest of the suite
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.generator == "llamacpp" and settings.llm_model is None
    path = default_model()
    model = gguf.PACKAGED[gguf.DEFAULT_MODEL]
    assert path.stat().st_size == model.size == 1_117_320_768
    with path.open("rb") as f:
        header = f.read(1 << 16)
    assert header[:4] == b"GGUF" and b"Qwen2.5 Coder 1.5B Instruct" in header


def test_without_the_model_ragbot_says_so_once_and_answers_extractively(settings: Settings, tmp_path: Path) -> None:
    lib = Library(settings.model_copy(update={"generator": "llamacpp", "llm_model": str(tmp_path / "gone.gguf")}))
    assert lib.generator == "extractive"
    assert lib.generator_note == f"Answering with quoted sentences instead of the local model: the GGUF model {str(tmp_path / 'gone.gguf')!r} does not exist."
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")}
    env.update(RAGBOT_DATA_DIR=str(tmp_path / "data"), RAGBOT_MODEL_CACHE_DIR=str(MODELS_DIR), RAGBOT_EMBED_BACKEND="onnx",
               RAGBOT_LLM_MODEL=str(tmp_path / "gone.gguf"))
    subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(SAMPLE_ARTICLE)], check=True, env=env, capture_output=True, timeout=600)
    run = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--json", "When did Belousov arrive in Beijing?"],
                         env=env, check=False, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip().splitlines() == [f"ragbot: {lib.generator_note}"]
    answer = json.loads(run.stdout)
    assert answer["generator"] == "extractive" and "Monday" in answer["answer"]


def test_the_refusal_threshold_is_the_packaged_models_own_unless_set(tmp_path: Path) -> None:
    from retrieval.llm import refuse_at

    def threshold(**fields: object) -> float:
        return refuse_at(Settings(_env_file=None, data_dir=tmp_path, **fields))  # type: ignore[call-arg]

    assert threshold() == gguf.PACKAGED[gguf.DEFAULT_MODEL].refuse_at == 0.2
    assert threshold(llm_model="qwen2.5-coder-0.5b") == 1.0
    assert threshold(llm_model=str(tmp_path / "other.gguf")) == 1.0  # not fitted for it: none
    assert threshold(llm_refuse_at=0.3) == threshold(llm_model="qwen2.5-coder-0.5b", llm_refuse_at=0.3) == 0.3
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Settings(_env_file=None, data_dir=tmp_path, llm_refuse_at=1.5)  # type: ignore[call-arg]
