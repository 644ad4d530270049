"""The ONNX export (build time, needs PyTorch once): plain graph, transformer fusion, int8 quantization."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embedding.contract import MAX_TOKENS
from retrieval.embedding.models import model_key, offline_unless_hub, resolve_model

log = logging.getLogger(__name__)

# 2: attention exported from the eager implementation and fused (attention, GELU, layer norms) by
# onnxruntime's transformer optimizer; int8 quantized from the fused graph.
ONNX_EXPORT_VERSION = 2

# The fused graph must give the plain export's token states to this much (max abs difference).
FUSED_TOLERANCE = 1e-3


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
    offline_unless_hub(is_local)
    import torch
    from sentence_transformers import SentenceTransformer

    out.mkdir(parents=True, exist_ok=True)
    try:
        # The eager attention exports as the plain matrix products the fusion below recognises
        # (the default scaled-dot-product kernel exports as a pattern it does not).
        st = SentenceTransformer(name, device="cpu", model_kwargs={"attn_implementation": "eager"})
    except (TypeError, ValueError):  # a model without that option
        st = SentenceTransformer(name, device="cpu")
    auto_model = st[0].auto_model  # typed by torch's Module.__getattr__ as a tensor or a module
    assert isinstance(auto_model, torch.nn.Module)  # a transformers model: always a module
    transformer = auto_model.eval()
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
    docs/performance.md measures the gain). It is kept
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
    (
        "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region "
        "in France. They were descended from Norse raiders and pirates from Denmark, Iceland and Norway."
    ),
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
