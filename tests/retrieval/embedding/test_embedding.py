"""The ONNX embedder against sentence-transformers, embedder identities, and the mismatch guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.embedding import Embedder, OnnxEmbedder, TorchEmbedder, embedder_identity, load_embedder
from retrieval.errors import RagbotError
from retrieval.ingest.loaders import SAMPLE_ARTICLE, SAMPLE_DOC_ID
from retrieval.library import Library
from retrieval.settings import Settings
from tests.support.paths import MODELS_DIR

LONG = " ".join(
    f"Sentence {i} of a long report mentions the Treaty of Westphalia, résumé-writing, 3.14159 and naïve café owners."
    for i in range(40)
)  # about 1,000 word pieces: far past the 256-token window, so truncation must agree too

TEXTS = [
    "Which NFL team represented the AFC at Super Bowl 50?",
    "It was released in 1997.",
    "",
    "a",
    "Ünïcödé, emoji 🚀, CJK 北京 and Cyrillic Москва in one line.",
    "   leading and trailing spaces   ",
    "URLs like https://example.org/a?b=c&d=e and e-mail x@y.z, numbers 1,234.56 and 10^9.",
    "Line one\nline two\ttabbed",
    "word " * 120,  # ~120 tokens, padded against the long ones in a batch
    LONG,
    LONG[::-1],
]


@pytest.fixture(scope="module")
def torch_embedder() -> TorchEmbedder:
    """sentence-transformers on PyTorch: the reference."""
    return TorchEmbedder(None)


def test_onnx_fp32_matches_sentence_transformers(embedder: Embedder, torch_embedder: TorchEmbedder) -> None:
    """Same weights, same vectors: cosine > 0.9999 for every text, long ones (truncated at 256 tokens) included."""
    assert embedder.tokenizer.encode_batch([LONG], add_special_tokens=False)[0].ids.__len__() > 256
    onnx = embedder.embed(TEXTS)
    ref = torch_embedder.embed(TEXTS)
    assert onnx.shape == ref.shape == (len(TEXTS), 384)
    cos = np.sum(onnx * ref, axis=1) / (np.linalg.norm(onnx, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() > 0.9999, dict(zip(TEXTS, cos.round(6), strict=True))
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_onnx_fp32_does_not_depend_on_batch_composition(embedder: Embedder) -> None:
    """A text's vector is the same alone and in a padded, length-sorted batch (rows come back in order)."""
    together = embedder.embed(TEXTS)
    alone = np.stack([embedder.embed([t])[0] for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_int8_embeds_one_text_at_a_time_so_neighbours_do_not_move_its_vector() -> None:
    """int8 quantizes each batch's activations with one scale: its default batch is 1, so a vector never depends on the others."""
    from retrieval.embedding import default_batch_size

    int8 = load_embedder(None, "onnx-int8", MODELS_DIR)
    assert int8.batch_size == default_batch_size("onnx-int8") == 1
    assert load_embedder(None, "onnx", MODELS_DIR).batch_size == default_batch_size("onnx") == 8
    texts = [*TEXTS, LONG]
    alone = np.stack([int8.embed([t])[0] for t in texts])
    np.testing.assert_allclose(int8._embed(texts), alone, atol=1e-6)  # one call, many texts: the same vectors
    batched = load_embedder(None, "onnx-int8", MODELS_DIR, batch_size=8)._embed(texts)
    assert np.abs(batched - alone).max() > 1e-4  # what batch 1 avoids: in batches of 8 the neighbours show


def test_identity_is_known_without_loading(embedder: Embedder, torch_embedder: TorchEmbedder) -> None:
    """The identity computed from settings is the loaded embedder's; fp32 ONNX and PyTorch share it, int8 does not."""
    assert embedder_identity(None, "onnx") == embedder.identity == torch_embedder.identity == "all-MiniLM-L6-v2|fp32"
    assert embedder_identity(None, "torch") == embedder.identity
    assert embedder_identity(None, "onnx-int8") == "all-MiniLM-L6-v2|int8"


def test_int8_library_opened_with_fp32_names_the_fix(settings: Settings) -> None:
    """A library embedded with int8 refuses fp32 queries with a clear message instead of mixing vectors."""
    int8_settings = settings.model_copy(update={"embed_backend": "onnx-int8"})
    int8 = Library(int8_settings, embedder=load_embedder(None, "onnx-int8", MODELS_DIR))
    assert int8.ingest_sample().added == [SAMPLE_DOC_ID]
    assert int8.search("Who met Belousov?")

    fp32 = Library(settings.model_copy(update={"embed_backend": "onnx"}))
    for call in (lambda: fp32.search("Who met Belousov?"), lambda: fp32.ask("Who met Belousov?")):
        with pytest.raises(RagbotError) as err:
            call()
        message = str(err.value)
        assert "all-MiniLM-L6-v2|int8" in message and "all-MiniLM-L6-v2|fp32" in message
        assert "RAGBOT_EMBED_BACKEND" in message


def test_recent_texts_come_back_from_the_cache_unchanged(embedder: Embedder) -> None:
    """Answer sentences embedded again are served from the bounded cache with the same vectors."""
    from retrieval.embedding import RECENT_SIZE, OnnxEmbedder

    assert isinstance(embedder, OnnxEmbedder)
    texts = ["The cache holds this sentence.", "And this one, for a while."]
    first = embedder.embed(texts)
    assert all(t in embedder._recent for t in texts)
    again = embedder.embed(texts[::-1])
    np.testing.assert_array_equal(again, first[::-1])
    np.testing.assert_allclose(embedder._embed(texts), first, atol=1e-6)
    assert len(embedder._recent) <= RECENT_SIZE


def test_torch_backend_counts_real_tokens(embedder: Embedder, torch_embedder: TorchEmbedder) -> None:
    """Chunking sees the same token counts with either backend (no padding to 128, no truncation)."""
    from retrieval.embedding import token_counts

    texts = ["Hello world, this is short.", LONG]
    assert token_counts(torch_embedder.tokenizer, texts) == token_counts(embedder.tokenizer, texts)
    short, long = token_counts(embedder.tokenizer, texts)
    assert short < 16 and long > 256


@pytest.mark.parametrize(("backend", "batch_size"), [("onnx", 8), ("onnx-int8", 8), ("onnx-int8", 1)])
def test_ingest_bulk_session_gives_the_same_vectors_and_is_dropped_after(backend: str, batch_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside an ingest, big calls run on a second session (batches of one side by side, one per core), with the same vectors."""
    import threading

    from retrieval import embedding

    onnx = load_embedder(None, backend, MODELS_DIR, batch_size=batch_size)
    assert isinstance(onnx, embedding.OnnxEmbedder)
    side_by_side = batch_size <= embedding.SIDE_BY_SIDE_MAX_BATCH and embedding.usable_cores() > 1
    assert onnx.bulk_workers == (embedding.usable_cores() if side_by_side else 1)
    sentences = [f"{n}: {s}" for n in range(12) for s in SAMPLE_ARTICLE.read_text().split(". ") if s.strip()]
    spans = [[(0, min(10, len(t))), (0, len(t))] for t in sentences]
    assert len(sentences) >= embedding.BULK_MIN_TEXTS
    alone, alone_parts = onnx.embed_spans(sentences, spans)
    with embedding.ingesting(onnx):
        onnx.embed_spans(sentences[:10], spans[:10])
        assert onnx._bulk is None  # a small call (one article) makes no extra session
        used: set[int] = set()
        threads: set[int] = set()
        run_batch = embedding.OnnxEmbedder._run_batch

        def recording(self: embedding.OnnxEmbedder, session: object, *args: object) -> None:
            used.add(id(session))
            threads.add(threading.get_ident())
            run_batch(self, session, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(embedding.OnnxEmbedder, "_run_batch", recording)
        together, together_parts = onnx.embed_spans(sentences, spans)
        assert onnx._bulk is not None and used == {id(onnx._bulk)}  # not the question session
        if side_by_side:  # one single-threaded call per core
            assert len(threads) == onnx.bulk_workers and threading.get_ident() not in threads
            assert onnx._bulk.get_session_options().intra_op_num_threads == 1
        else:
            assert threads == {threading.get_ident()}
        with embedding.ingesting(onnx):  # nested (two ingests at once): the inner end keeps it
            pass
        assert onnx._bulk is not None
    assert onnx._bulk is None
    # Same graph, same batches: spinning threads and thread counts change the timing, not the arithmetic.
    assert np.array_equal(alone, together)
    assert all(np.array_equal(a, b) for a, b in zip(alone_parts, together_parts, strict=True))


def test_exported_graph_is_fused_and_int8_is_quantized_from_it() -> None:
    """The cached export runs attention as fused operators (and the fp32 test above holds for it)."""
    import json

    import onnx

    from retrieval.embedding import export_onnx

    folder = export_onnx(None, MODELS_DIR, quantize=True)
    assert json.loads((folder / "meta.json").read_text())["fused"] is True
    ops = {name: {n.op_type for n in onnx.load(str(folder / name), load_external_data=False).graph.node} for name in ("model.onnx", "model-int8.onnx")}
    assert {"Attention", "SkipLayerNormalization"} <= ops["model.onnx"] and "Softmax" not in ops["model.onnx"]
    assert {"QAttention", "MatMulInteger"} <= ops["model-int8.onnx"]


def test_a_fusion_that_changes_the_output_is_not_kept(tmp_path: Path, torch_embedder: TorchEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fusion is checked against the plain export; when they disagree the plain graph is exported, and works."""
    import json

    from retrieval.embedding import export

    monkeypatch.setattr(export, "FUSED_TOLERANCE", -1.0)  # no fused graph can pass
    folder = export.export_onnx(None, tmp_path)
    assert json.loads((folder / "meta.json").read_text())["fused"] is False
    assert not list(folder.glob(".*"))  # no temporary files left behind
    plain = OnnxEmbedder(None, tmp_path)
    cos = np.sum(plain.embed(TEXTS) * torch_embedder.embed(TEXTS), axis=1)
    assert cos.min() > 0.9999
