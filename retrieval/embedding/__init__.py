"""Embeddings: the `Embedder` contract and its backends, ONNX Runtime (default) and sentence-transformers.

The ONNX model is exported once from the same sentence-transformers weights (this needs PyTorch,
once) and cached; after that the question path imports neither torch nor sentence-transformers.
`load_embedder` gives one embedder per process for a set of settings.
"""

from __future__ import annotations

import threading
from pathlib import Path

from retrieval.embedding.batching import SIDE_BY_SIDE_MAX_BATCH, bulk_workers, default_batch_size, usable_cores
from retrieval.embedding.contract import MAX_TOKENS, Embedder, Tokenizer, ingesting, pool_spans, token_counts
from retrieval.embedding.export import export_onnx
from retrieval.embedding.models import bundled_model_path, embedder_identity, model_key, resolve_model
from retrieval.embedding.runtime import BULK_MIN_TEXTS, RECENT_SIZE, OnnxEmbedder
from retrieval.embedding.torch_backend import TorchEmbedder
from retrieval.errors import RagbotError

__all__ = [
    "BULK_MIN_TEXTS", "MAX_TOKENS", "RECENT_SIZE", "SIDE_BY_SIDE_MAX_BATCH", "Embedder", "OnnxEmbedder", "Tokenizer",
    "TorchEmbedder", "bulk_workers", "bundled_model_path", "default_batch_size", "embedder_identity", "export_onnx",
    "ingesting", "load_embedder", "model_key", "pool_spans", "resolve_model", "token_counts", "usable_cores",
]

_cache: dict[tuple[str, str, str, int], Embedder] = {}

_cache_lock = threading.Lock()


def load_embedder(model: str | None, backend: str, models_dir: Path, batch_size: int | None = None) -> Embedder:
    """Load (once per process) the embedder for these settings (`batch_size` None: the backend's default)."""
    batch_size = batch_size or default_batch_size(backend)
    key = (model or "", backend, str(models_dir), batch_size)
    with _cache_lock:
        if key not in _cache:
            if backend == "torch":
                _cache[key] = TorchEmbedder(model, batch_size)
            elif backend in ("onnx", "onnx-int8"):
                _cache[key] = OnnxEmbedder(model, models_dir, int8=backend == "onnx-int8", batch_size=batch_size)
            else:
                raise RagbotError(f"Unknown embedding backend {backend!r}: set RAGBOT_EMBED_BACKEND to onnx, onnx-int8 or torch.")
        return _cache[key]
