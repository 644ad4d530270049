"""ONNX Runtime + tokenizers + numpy: the default embedder, with a question session and a bulk one for ingests."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embedding.batching import bulk_workers
from retrieval.embedding.contract import pool_spans
from retrieval.embedding.export import export_onnx
from retrieval.embedding.models import plain_tokenizer

# The cache of recently embedded texts: at most RECENT_SIZE vectors (384 floats: 1.5 kB each),
# filled only by calls of at most RECENT_MAX_CALL texts (questions and answer sentences, not ingests).
RECENT_SIZE = 2048

RECENT_MAX_CALL = 256

# Batch size for those small calls (see OnnxEmbedder.embed).
SMALL_BATCH = 8

# Calls of at least this many texts inside an ingest run on the bulk session (see `OnnxEmbedder.ingesting`).
BULK_MIN_TEXTS = 64


class OnnxEmbedder:
    """ONNX Runtime + tokenizers + numpy: the same embeddings as sentence-transformers, faster."""

    def __init__(self, model: str | None, models_dir: Path, int8: bool = False, batch_size: int = 32) -> None:
        folder = export_onnx(model, models_dir, quantize=int8)
        meta = json.loads((folder / "meta.json").read_text())
        self._path = folder / ("model-int8.onnx" if int8 else "model.onnx")
        self.session = self._new_session()
        self.inputs: list[str] = meta["inputs"]
        self.pooling: str = meta["pooling"]
        self.normalize: bool = meta["normalize"]
        self.max_tokens: int = meta["max_tokens"]
        self.dim: int = meta["dim"]
        self.batch_size = batch_size
        # fp32 ONNX gives the same vectors as PyTorch, so both share one identity; int8 does not.
        self.identity = f"{meta['model']}|{'int8' if int8 else 'fp32'}"
        self.tokenizer = plain_tokenizer(folder / "tokenizer.json")
        self._encoder = plain_tokenizer(folder / "tokenizer.json")
        self._encoder.enable_truncation(self.max_tokens)
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._bulk: Any | None = None
        self._bulk_users = 0
        self._bulk_lock = threading.Lock()
        self.bulk_workers = bulk_workers(batch_size)

    def _new_session(self, spinning: bool = False, threads: int = 0) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        if not spinning:
            # Idle worker threads sleep instead of spinning: a question's few small batches gain
            # nothing from spinning, and a bot should not burn the cores it shares between them.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(self._path), opts, providers=["CPUExecutionProvider"])

    @contextmanager
    def ingesting(self) -> Iterator[None]:
        """Within this block, large calls run on a bulk session whose idle threads spin (for ingests).

        Between the many back-to-back batches of an ingest, threads that spin instead of sleeping
        encode faster (docs/performance.md); the question session keeps them
        asleep. The bulk session (a second copy of the weights) is made on the first call big
        enough to use it, so ingesting one article makes none, and dropped when the last block
        ends, so a bot that ingested now and then does not keep it.

        With batches of one or two texts (int8's default), the bulk session runs one thread per
        call and `bulk_workers` batches (one per core) run side by side: a small batch's operators
        are too small to split well across cores (docs/performance.md compares the two). The arithmetic is the same whatever the
        thread count, so the vectors are too.
        """
        with self._bulk_lock:
            self._bulk_users += 1
        try:
            yield
        finally:
            with self._bulk_lock:
                self._bulk_users -= 1
                if self._bulk_users == 0:
                    self._bulk = None

    def _bulk_session(self) -> Any | None:
        """The bulk session inside an `ingesting` block (made on first use), else None."""
        with self._bulk_lock:
            if self._bulk_users == 0:
                return None
            if self._bulk is None:
                self._bulk = self._new_session(spinning=True, threads=1 if self.bulk_workers > 1 else 0)
            return self._bulk

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts in length-sorted batches; rows come back in input order.

        Small calls (questions, and the candidate sentences an answer is composed from) go through
        a bounded cache of recent texts: the sentences of often-retrieved passages come back
        question after question. fp32 vectors do not depend on batch composition and int8 ones
        are made one text at a time by default (`default_batch_size`), so a cached vector is the
        one a fresh call would give.
        """
        if not texts or len(texts) > RECENT_MAX_CALL:
            return self._embed(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: list[int] = []
        with self._recent_lock:
            for i, text in enumerate(texts):
                vec = self._recent.get(text)
                if vec is None:
                    missing.append(i)
                else:
                    self._recent.move_to_end(text)
                    out[i] = vec
        if missing:
            # Small batches: a question path's batch (a list question's candidate sentences) then
            # needs a fraction of the activation memory a batch of 32 long sentences would (the
            # bot's peak memory, docs/performance.md); throughput hardly matters for a few texts.
            fresh = self._embed([texts[i] for i in missing], batch_size=min(SMALL_BATCH, self.batch_size))
            with self._recent_lock:
                for i, vec in zip(missing, fresh, strict=True):
                    out[i] = vec
                    self._recent[texts[i]] = vec.copy()  # a copy: a row view would pin its whole batch
                while len(self._recent) > RECENT_SIZE:
                    self._recent.popitem(last=False)
        return out

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """See `Embedder.embed_spans` (no cache: these are passages, not questions)."""
        parts: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        return self._embed(texts, spans, parts), parts

    def _embed(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]] | None = None,
        parts: list[np.ndarray] | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        batch_size = batch_size or self.batch_size
        with self._lock:  # the tokenizer object is not meant for concurrent reconfiguration
            encodings = self._encoder.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[lo : lo + batch_size] for lo in range(0, len(order), batch_size)]
        bulk = self._bulk_session() if len(texts) >= BULK_MIN_TEXTS else None
        session = bulk or self.session
        workers = min(self.bulk_workers, len(batches)) if bulk is not None else 1

        def run(share: list[list[int]]) -> None:  # each batch fills its own rows of `out` and `parts`
            for idx in share:
                self._run_batch(session, idx, encodings, out, spans, parts)

        if workers <= 1:
            run(batches)
            return out
        from concurrent.futures import ThreadPoolExecutor

        # Every worker-th batch of the length-sorted list: the shares come out about equally long.
        with ThreadPoolExecutor(workers, thread_name_prefix="ragbot-embed") as pool:
            for done in [pool.submit(run, batches[k::workers]) for k in range(workers)]:
                done.result()
        return out

    def _run_batch(
        self,
        session: Any,
        idx: list[int],
        encodings: list[Any],
        out: np.ndarray,
        spans: Sequence[Sequence[tuple[int, int]]] | None,
        parts: list[np.ndarray] | None,
    ) -> None:
        """Encode one batch (rows `idx` of `encodings`) into `out` and, with spans, `parts`."""
        width = max(len(encodings[i].ids) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        types = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            enc = encodings[i]
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = session.run(None, {k: feeds[k] for k in self.inputs})[0]
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        if self.normalize:
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        out[idx] = pooled
        if spans is not None and parts is not None:
            for row, i in enumerate(idx):
                enc = encodings[i]
                parts[i] = pool_spans(hidden[row, : len(enc.ids)], enc.offsets, enc.special_tokens_mask, spans[i])
