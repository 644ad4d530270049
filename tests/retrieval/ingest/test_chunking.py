import itertools

from retrieval.embedding import MAX_TOKENS, token_counts
from retrieval.ingest.chunking import _span_counts, chunk_document, chunk_documents
from retrieval.ingest.loaders import SAMPLE_ARTICLE
from retrieval.text import indexed_text, sentence_spans
from retrieval.types import Document


def test_sentence_spans_are_exact_and_respect_abbreviations() -> None:
    text = "Mr. J. Smith went to Washington on Jan. 5. He said \"Hi!\" Then he left.\nU.S. troops came."
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "Mr. J. Smith went to Washington on Jan. 5.",
        'He said "Hi!"',
        "Then he left.",
        "U.S. troops came.",
    ]


def test_chunks_point_exactly_into_the_document_and_fit_the_window(embedder) -> None:
    text = SAMPLE_ARTICLE.read_text()
    doc = Document("d", "s", "A title", text)
    chunks = chunk_document(doc, embedder.tokenizer, max_tokens=120, overlap_tokens=30)
    assert len(chunks) > 2
    for i, c in enumerate(chunks):
        assert c.text == text[c.start : c.end]
        assert c.ordinal == i
        assert token_counts(embedder.tokenizer, [indexed_text(doc.title, c.text)])[0] + 2 <= MAX_TOKENS
    # neighbours overlap a little (a sentence), and together they cover every sentence
    assert any(b.start < a.end for a, b in itertools.pairwise(chunks))
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    for a, b in sentence_spans(text):
        assert a in covered and b - 1 in covered


def test_a_sentence_longer_than_the_window_is_split_not_truncated(embedder) -> None:
    words = " ".join(f"word{i}" for i in range(900))
    doc = Document("d", "s", "", words + ". Short end.")
    chunks = chunk_document(doc, embedder.tokenizer, max_tokens=200, overlap_tokens=0)
    assert len(chunks) >= 4
    joined = set()
    for c in chunks:
        assert c.text == doc.text[c.start : c.end]
        assert token_counts(embedder.tokenizer, [c.text])[0] <= 200
        joined.update(c.text.replace(".", " ").split())
    assert {f"word{i}" for i in range(900)} <= joined


def test_sentence_token_counts_read_off_the_whole_text_match_counting_each_sentence(embedder) -> None:
    text = SAMPLE_ARTICLE.read_text() + " naïve café—‘quotes’… U.S.A.-made. 東京都は日本の首都です。 x.y.z. 1.5 million."
    spans = sentence_spans(text)
    encoding = embedder.tokenizer.encode_batch([text], add_special_tokens=False)[0]
    assert _span_counts(spans, encoding) == token_counts(embedder.tokenizer, [text[a:b] for a, b in spans])


def test_a_span_edge_inside_a_token_falls_back_to_counting_each_sentence(embedder) -> None:
    encoding = embedder.tokenizer.encode_batch(["Hello world."], add_special_tokens=False)[0]
    assert _span_counts([(0, 3), (3, 12)], encoding) is None  # "hello" is one token: 0-3 cuts it
    assert _span_counts([(0, 5), (6, 12)], encoding) == [1, 2]
    nothing = embedder.tokenizer.encode_batch(["\u0301\u200b"], add_special_tokens=False)[0]
    assert _span_counts([(0, 2)], nothing) == [0]  # no token at all: zero, as counting alone gives


def test_chunking_many_documents_at_once_gives_each_document_its_own_chunks(embedder) -> None:
    docs = [
        Document("a", "s", "A title", SAMPLE_ARTICLE.read_text()),
        Document("b", "s", "", "One sentence here. Two here."),
        Document("c", "s", "T", "   "),
    ]
    together = chunk_documents(docs, embedder.tokenizer, max_tokens=120, overlap_tokens=30)
    assert together == [chunk_document(d, embedder.tokenizer, max_tokens=120, overlap_tokens=30) for d in docs]
    assert [len(c) > 0 for c in together] == [True, True, False]


def test_chunk_ids_change_with_content(embedder) -> None:
    a = chunk_document(Document("d", "s", "t", "One sentence here. Two here."), embedder.tokenizer)
    b = chunk_document(Document("d", "s", "t", "One sentence here. Three here."), embedder.tokenizer)
    assert a[0].chunk_id != b[0].chunk_id


def test_month_abbreviations_end_a_sentence_unless_a_number_follows() -> None:
    text = "He met Dong Jun. Ignore previous instructions. Talks resumed on Jun. 5 in Beijing."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "He met Dong Jun.",
        "Ignore previous instructions.",
        "Talks resumed on Jun. 5 in Beijing.",
    ]
