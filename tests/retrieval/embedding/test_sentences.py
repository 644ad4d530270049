"""Sentence vectors pooled from a chunk's forward pass: defined once, stored at ingest, recomputed when missing."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from retrieval.answer.context import AnswerContext
from retrieval.answer.extractive import compose
from retrieval.answer.scoring import candidates, score_sentences
from retrieval.embedding import Embedder, TorchEmbedder, pool_spans, sentences
from retrieval.library import Library
from retrieval.text import sentence_spans

TITLE = "Harbour news"
TEXT = (
    "The Korrin lighthouse was painted green and white in 1931 by the keeper Ada Brandt. "
    "She used forty litres of paint. Visitors can climb its ninety steps on Sundays."
)


def test_a_span_vector_is_the_mean_of_the_token_states_inside_it() -> None:
    hidden = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [3.0, 1.0], [9.0, 9.0]], dtype=np.float32)
    offsets = [(0, 0), (0, 3), (4, 8), (9, 12), (0, 0)]  # [CLS] "The" "lamp" "lit" [SEP]
    special = [1, 0, 0, 0, 1]
    got = pool_spans(hidden, offsets, special, [(0, 8), (9, 12), (4, 12), (20, 30)])
    want = [np.array([0.5, 0.5]), np.array([3.0, 1.0]), np.array([1.5, 1.0])]
    for row, w in zip(got, want, strict=False):
        np.testing.assert_allclose(row, w / np.linalg.norm(w), rtol=1e-6)
    assert not got[3].any()  # no token inside: matches nothing


def test_onnx_and_torch_sentence_vectors_agree(embedder: Embedder) -> None:
    """The ONNX path and sentence-transformers' token states give the same sentence vectors (fp32)."""
    torch = TorchEmbedder(None)
    a_vecs, a_parts = sentences.embed_chunks(embedder, [TITLE, ""], [TEXT, TEXT])
    _, b_parts = sentences.embed_chunks(torch, [TITLE, ""], [TEXT, TEXT])
    np.testing.assert_allclose(a_vecs, embedder.embed([f"{TITLE}\n{TEXT}", TEXT]), atol=1e-5)
    assert [p.shape for p in a_parts] == [(3, 384), (3, 384)]
    for a, b in zip(a_parts, b_parts, strict=True):
        assert (np.sum(a * b, axis=1) > 0.9999).all()
    # The title header gives context: the same sentence pooled under another header differs a little.
    assert not np.allclose(a_parts[0], a_parts[1], atol=1e-3)


def test_a_sentence_vector_answers_for_its_sentence(embedder: Embedder) -> None:
    _, [part] = sentences.embed_chunks(embedder, [TITLE], [TEXT])
    q = embedder.embed(["How much paint was used?", "Who painted the lighthouse?", "When can visitors climb it?"])
    assert list((q @ part.T).argmax(axis=1)) == [1, 0, 2]


def test_metadata_round_trip_and_format_guard() -> None:
    vecs = np.random.default_rng(0).normal(size=(4, 384)).astype(np.float32)
    meta = sentences.metadata(vecs)
    back = sentences.decode(meta, 384)
    assert back is not None and back.shape == (4, 384)
    # 4 bits with one scale per row: each component is within half a step of its row's scale
    step = np.abs(vecs).max(axis=1, keepdims=True) / 7
    assert np.all(np.abs(back - vecs) <= step / 2 + 1e-6)
    assert len(sentences.to_bytes(vecs)) == 1 + 4 * (4 + 192)  # a marker, four scales, four rows of 384 nibbles
    assert len(sentences.encode(vecs)) < len(base64.b64encode(vecs.astype("<f2").tobytes())) * 0.3
    old = {sentences.KEY: base64.b64encode(vecs.astype("<f2").tobytes()).decode(), sentences.FORMAT_KEY: 1}
    np.testing.assert_allclose(sentences.decode(old, 384), vecs, atol=2e-3)  # float16, written before, still reads
    # int8 rows with float32 scales (format 2), written before, still read: from Chroma and from the keyword index
    scale = np.abs(vecs).max(axis=1) / 127
    int8 = scale.astype("<f4").tobytes() + np.rint(vecs / scale[:, None]).astype(np.int8).tobytes()
    assert int8[0] != 0xF4  # (the marker of format 3, which a format-2 blob's length rules out anyway)
    np.testing.assert_allclose(sentences.from_bytes(int8, 384), vecs, atol=float(scale.max()) / 2 + 1e-6)
    two = {sentences.KEY: base64.b64encode(int8).decode(), sentences.FORMAT_KEY: 2}
    np.testing.assert_allclose(sentences.decode(two, 384), vecs, atol=float(scale.max()) / 2 + 1e-6)
    assert sentences.from_bytes(sentences.to_bytes(vecs), 200) is None and sentences.from_bytes(int8[:-1], 384) is None
    assert sentences.decode({**meta, sentences.FORMAT_KEY: sentences.FORMAT + 1}, 384) is None
    assert sentences.decode({}, 384) is None
    assert sentences.decode({sentences.KEY: "not base64!", sentences.FORMAT_KEY: sentences.FORMAT}, 384) is None


def test_ingest_stores_one_vector_per_sentence_and_ask_uses_them(sample_library: Library) -> None:
    searcher = sample_library._searcher(None)
    question = "what exercises were mentioned?"
    vector = sample_library.embedder.embed([question])[0]
    hits = searcher.search(question, 5, vector=vector)
    for hit in hits:
        stored = searcher.sentence_vectors(hit)
        assert stored is not None and len(stored) == len(sentence_spans(hit.text))
    idf = searcher.idf()
    spans = candidates(hits)
    stored = AnswerContext(question, hits, sample_library.embedder, idf, question, vector, searcher.sentence_vectors)
    fresh = AnswerContext(question, hits, sample_library.embedder, idf, question, vector)  # no store: one pass per chunk
    from_store = score_sentences(stored, spans)
    recomputed = score_sentences(fresh, spans)
    # Stored at 4 bits: the same sentences, each scored within rounding of the recomputed score (near ties may swap)
    assert sorted(s.span.key for s in from_store) == sorted(s.span.key for s in recomputed)
    fresh_score = {s.span.key: s.similarity for s in recomputed}
    assert max(abs(s.similarity - fresh_score[s.span.key]) for s in from_store) < 0.03
    a = compose(stored)
    b = compose(fresh)
    assert a.text == b.text and "North Pacific" in a.text and "Sea of Japan" in a.text


def test_chunks_without_stored_vectors_are_scored_the_same(sample_library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library written before sentence vectors existed (or of another splitter format) still answers alike."""
    question = "Where did Russia and China conduct joint drills last month?"
    with_store = sample_library.ask(question)
    searcher = sample_library._searcher(None)
    monkeypatch.setattr(type(searcher), "sentence_vectors", lambda self, hit: None)
    without = sample_library.ask(question)
    assert with_store.text == without.text and "Sea of Japan" in without.text
