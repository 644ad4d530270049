"""Batch policy: texts per batch, and how many of an ingest's batches run side by side."""

from __future__ import annotations

import os

# Bulk batches of at most this many texts run side by side, one per core, each on one thread; larger
# ones run one after another on all cores (see `OnnxEmbedder.ingesting`).
SIDE_BY_SIDE_MAX_BATCH = 2


def bulk_workers(batch_size: int) -> int:
    """How many of an ingest's batches of this size the ONNX backends run side by side (see `OnnxEmbedder.ingesting`)."""
    return usable_cores() if batch_size <= SIDE_BY_SIDE_MAX_BATCH else 1


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def default_batch_size(backend: str) -> int:
    """Texts per batch when RAGBOT_EMBED_BATCH_SIZE is unset.

    int8: one. Dynamic quantization scales each batch's activations by the batch's largest
    value, so in a batch of 8 a text's vector depends on its neighbours: ingesting SQuAD in
    differently composed batches moved dense hit@5 measurably (docs/performance.md).
    One at a time, a text always gets the same vector (as fp32 does in any batch); an ingest runs
    such batches side by side, one per core (`OnnxEmbedder.ingesting`), which encodes SQuAD's
    chunks about as fast as batches of 8 on all cores. fp32 and torch: 8 (length-sorted batches of 8
    encode faster than 32 on two cores; docs/performance.md).
    """
    return 1 if backend == "onnx-int8" else 8
