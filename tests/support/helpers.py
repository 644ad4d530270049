"""The hashing embedder and free_port, shared by tests and their child processes (importable without pytest)."""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HashingEmbedder:
    """A deterministic bag-of-words embedder (feature hashing), for tests whose subject is the store.

    Embedding 2,000 passages with the real model takes minutes on the CI machine's two shared
    cores; the crash test is about what a killed write leaves in Chroma, not about vectors, so
    it uses this honest ten-line stand-in (with the real tokenizer for chunking).
    """

    dim = 384

    def __init__(self, tokenizer: object) -> None:
        self.tokenizer = tokenizer
        self.identity = f"test-hashing-bow-{self.dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The texts' vectors and a bag-of-words vector per span (no context: there is no model)."""
        return self.embed(texts), [self.embed([text[a:b] for a, b in wanted]) for text, wanted in zip(texts, spans, strict=True)]
