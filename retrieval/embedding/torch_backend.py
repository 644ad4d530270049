"""sentence-transformers on PyTorch: the reference backend and the ONNX exporter's source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from retrieval.embedding.contract import MAX_TOKENS, pool_spans
from retrieval.embedding.models import model_key, offline_unless_hub, resolve_model
from retrieval.errors import RagbotError

if TYPE_CHECKING:
    from torch import Tensor


class TorchEmbedder:
    """sentence-transformers on PyTorch: the reference backend and the ONNX exporter's source."""

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        name, is_local = resolve_model(model)
        offline_unless_hub(is_local)
        try:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(name, device="cpu")
        except Exception as exc:
            raise RagbotError(f"Could not load the embedding model {name!r}: {exc}") from exc
        self.model.max_seq_length = min(self.model.max_seq_length or MAX_TOKENS, MAX_TOKENS)
        self.batch_size = batch_size
        self.model_name = name
        self.identity = f"{model_key(name)}|fp32"
        self.dim = int(self.model.get_embedding_dimension() or 0)
        # A copy of the fast tokenizer without the shipped padding/truncation to 128: chunking counts
        # real tokens, not padded ones.
        from tokenizers import Tokenizer as HFTokenizer

        tok = HFTokenizer.from_str(self.model.tokenizer.backend_tokenizer.to_str())
        tok.no_truncation()
        tok.no_padding()
        self.tokenizer = tok
        self._encoder = HFTokenizer.from_str(tok.to_str())
        self._encoder.enable_truncation(int(self.model.max_seq_length))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Encode with sentence-transformers, normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vecs, dtype=np.float32)

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """See `Embedder.embed_spans`: token states from sentence-transformers, offsets from the same tokenizer."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        # One dict of tensors per text. The cast: a list[str] also matches the stub's single-input overloads
        # (as a video's frames), which come first, so mypy would read the result as one dict.
        items = cast(
            "list[dict[str, Tensor]]", self.model.encode(list(texts), batch_size=self.batch_size, output_value=None)
        )
        encodings = self._encoder.encode_batch(list(texts))
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        parts: list[np.ndarray] = []
        for i, (item, enc, wanted) in enumerate(zip(items, encodings, spans, strict=True)):
            v = item["sentence_embedding"].float().numpy()
            vecs[i] = v / max(float(np.linalg.norm(v)), 1e-12)
            n = int(item["attention_mask"].sum())
            if n != len(enc.ids):  # pragma: no cover - both come from the same tokenizer
                raise RagbotError("The embedding model's tokenizer disagrees with its own copy.")
            parts.append(pool_spans(item["token_embeddings"][:n].float().numpy(), enc.offsets, enc.special_tokens_mask, wanted))
        return vecs, parts
