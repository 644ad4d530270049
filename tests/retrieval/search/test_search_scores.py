"""Fused search scores are finite, in [0, 1] and ordered, whatever the library and the query."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.embedding import Embedder
from retrieval.library import Library
from retrieval.search.searcher import _normalise
from retrieval.settings import Settings
from retrieval.types import Document
from tests.support.helpers import HashingEmbedder
from tests.support.paths import MODELS_DIR

WORDS = ["ferry", "harbour", "canal", "festival", "zebra", "karoo", "lamp", "keeper", "island", "the", "was", "1997", "café", "x_y"]
_names = itertools.count()

sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(lambda w: " ".join(w).capitalize() + ".")
document = st.tuples(st.lists(sentence, min_size=1, max_size=4).map(" ".join), st.sampled_from(["", "Ferries", "Night lamps"]))


def test_a_degenerate_reference_cannot_blow_up() -> None:
    """One keyword match (no spread in the reference) once gave scores of about -1.8e9."""
    out = _normalise(np.array([2.5, 0.0, 0.0]), np.array([2.5]))
    assert out.tolist() == [1.0, 0.0, 0.0]
    assert _normalise(np.array([0.3, 0.2]), np.array([0.31, 0.31])).max() <= 1.0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(docs=st.lists(document, min_size=1, max_size=6), query=st.lists(st.sampled_from(WORDS + ["unknown"]), min_size=1, max_size=5),
       k=st.integers(1, 8))
def test_fused_scores_are_finite_bounded_and_ordered(tmp_path_factory, embedder: Embedder, docs, query, k) -> None:  # type: ignore[no-untyped-def]
    data: Path = tmp_path_factory.getbasetemp() / "scores"
    s = Settings(_env_file=None, data_dir=data, model_cache_dir=MODELS_DIR, collection=f"scores{next(_names)}")  # type: ignore[call-arg]
    lib = Library(s, embedder=HashingEmbedder(embedder.tokenizer))
    lib.ingest_documents([Document(f"d{i}", f"d{i}.txt", title, text) for i, (text, title) in enumerate(docs)])
    hits = lib.search(" ".join(query), k=k)
    scores = [h.score for h in hits]
    assert hits, "every library here has a chunk, so the dense side always finds one"
    assert all(math.isfinite(x) and 0.0 <= x <= 1.0 for x in scores), scores
    assert scores == sorted(scores, reverse=True)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
