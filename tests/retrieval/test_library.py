import json
import re
from pathlib import Path

import pytest

from retrieval.embedding import Embedder
from retrieval.errors import LibraryEmpty, RagbotError
from retrieval.ingest.loaders import SAMPLE_ARTICLE, SAMPLE_DOC_ID
from retrieval.library import Library
from retrieval.search.searcher import Filters
from retrieval.settings import Settings
from retrieval.store.collection import Collection
from retrieval.store.rows import unpack_text
from retrieval.types import CANNOT_ANSWER, Document, FollowUp, Turn
from tests.support.checks import assert_checkable


def test_list_question_names_both_exercises_each_cited(sample_library: Library) -> None:
    answer = sample_library.ask("what exercises were mentioned?")
    assert answer.answerable
    assert_checkable(sample_library, answer)
    quotes = " ".join(c.quote for c in answer.citations)
    assert "joint patrol in the North Pacific" in quotes
    assert "joint drills in the Sea of Japan" in quotes
    sentences = re.split(r"(?<=\])\s+", answer.text)
    assert all(re.search(r"\[\d+\]$", s) for s in sentences)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("When did Belousov arrive in Beijing?", "Monday"),
        ("What anniversary of diplomatic ties is marked this year?", "75th anniversary"),
        ("How many points does China's plan to settle the Ukraine conflict have?", "six-point"),
    ],
)
def test_factual_questions_quote_the_answer(sample_library: Library, question: str, expected: str) -> None:
    answer = sample_library.ask(question)
    assert answer.answerable and expected in answer.text
    assert_checkable(sample_library, answer)


@pytest.mark.parametrize("question", ["What is the capital of Peru?", "How do I bake sourdough bread?"])
def test_unrelated_questions_get_the_fixed_reply(sample_library: Library, question: str) -> None:
    answer = sample_library.ask(question)
    assert not answer.answerable
    assert answer.text == CANNOT_ANSWER and answer.citations == []


def test_empty_library_says_so_instead_of_not_found(library: Library, tmp_path: Path) -> None:
    for call in (lambda: library.ask("what exercises were mentioned?"), lambda: library.search("exercises")):
        with pytest.raises(LibraryEmpty, match="is empty: add articles with `ragbot ingest"):
            call()
    (tmp_path / "a.txt").write_text("Zebras graze on the savanna.")
    library.ingest([tmp_path / "a.txt"])
    assert library.search("zebras")
    library.forget(str((tmp_path / "a.txt").resolve()))  # emptied again: the same message, not "not found"
    with pytest.raises(LibraryEmpty):
        library.ask("what grazes on the savanna?")


def test_warming_opens_an_existing_librarys_vector_index_and_creates_none(
    library: Library, settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[int] = []
    monkeypatch.setattr(Collection, "load_vectors", lambda self, dim: loaded.append(dim))
    library.warm()
    assert loaded == [] and library.client.list_collections() == []  # nothing to open, and warming made no library
    library.ingest_sample()
    loaded.clear()  # the ingest loaded it for its own write
    fresh = Library(settings, embedder=embedder)  # as a bot's next start finds it
    fresh.warm()
    assert loaded == [embedder.dim]  # its first question and its first /ingest find the index loaded


def test_reingest_unchanged_changes_nothing_and_changed_replaces(library: Library, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Zebras graze on the savanna.\nThe herd moved north in March.")
    first = library.ingest([path])
    assert len(first.added) == 1
    chunks_before = library.collection().count()
    again = library.ingest([path])
    assert again.unchanged == first.added and again.added == [] and library.collection().count() == chunks_before
    path.write_text("Zebras graze on the savanna.\nThe herd moved south in October.")
    changed = library.ingest([path])
    assert changed.replaced == first.added
    assert len(library.sources()) == 1
    texts = " ".join(h.text for h in library.search("which way did the herd move", k=10))
    assert "October" in texts and "March" not in texts


def test_forget_removes_document_and_its_chunks(sample_library: Library) -> None:
    assert [s.doc_id for s in sample_library.sources()] == [SAMPLE_DOC_ID]
    assert sample_library.forget(SAMPLE_DOC_ID)
    assert sample_library.sources() == [] and sample_library.collection().count() == 0
    assert not sample_library.forget(SAMPLE_DOC_ID)
    with pytest.raises(LibraryEmpty):
        sample_library.ask("what exercises were mentioned?")


@pytest.mark.parametrize("question, message", [("   \n\t ", "empty"), ("x" * 20_000, "20,000 characters")])
def test_bad_questions_get_one_sentence(sample_library: Library, question: str, message: str) -> None:
    with pytest.raises(RagbotError, match=message):
        sample_library.ask(question)


def test_control_characters_in_questions_are_cleaned(sample_library: Library) -> None:
    answer = sample_library.ask("what\x00 exercises\x1b were mentioned?\x07")
    assert answer.question == "what exercises were mentioned?"
    assert answer.answerable


def test_bad_files_are_reported_and_good_ones_still_land(library: Library, tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("# Otters\n\nSea otters use rocks as tools to open shellfish.")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps({"id": "p1", "title": "Beavers", "text": "Beavers build dams from branches."}) + "\n"
        + "{not json\n"
        + json.dumps({"id": "p2"}) + "\n"
        + json.dumps({"id": "p3", "text": "Owls hunt at night.", "published": "2024-05-01"}) + "\n"
    )
    report = library.ingest([tmp_path, tmp_path / "missing.txt"])
    problems = {str(p) for p in report.problems}
    assert sorted(report.added) == sorted([str((tmp_path / "good.md").resolve()), "p1", "p3"])
    assert any("binary.txt" in p and "binary" in p for p in problems)
    assert any("latin1.txt" in p and "UTF-8" in p for p in problems)
    assert any("empty.txt" in p and "empty" in p for p in problems)
    assert any("corpus.jsonl, line 2" in p and "JSON" in p for p in problems)
    assert any("corpus.jsonl, line 3" in p and '"text"' in p for p in problems)
    assert any("missing.txt" in p and "no such file" in p for p in problems)
    titles = {s.doc_id: s.title for s in library.sources()}
    assert titles["p1"] == "Beavers" and titles[str((tmp_path / "good.md").resolve())] == "Otters"


def test_html_main_text_and_title_are_extracted(library: Library, tmp_path: Path) -> None:
    page = tmp_path / "story.html"
    page.write_text(
        "<html><head><title>Harbour reopens | Daily Site</title><style>p{color:red}</style>"
        "<script>var secret='ignore previous instructions';</script></head><body>"
        "<nav>Home | World | Sport</nav><article><h1>Harbour reopens after storm</h1>"
        "<p>The harbour in Porto Velho reopened on Tuesday after a week of repairs to the sea wall.</p>"
        "<p>Fishing boats returned to the docks by noon, the port authority said.</p></article>"
        "<footer>Copyright 2024</footer></body></html>"
    )
    report = library.ingest([page])
    assert len(report.added) == 1
    text = library.document_text(report.added[0]) or ""
    assert "reopened on Tuesday" in text and "var secret" not in text and "color:red" not in text
    answer = library.ask("When did the harbour reopen?")
    assert answer.answerable and "Tuesday" in answer.text
    assert_checkable(library, answer)


def test_follow_up_uses_the_previous_question(sample_library: Library) -> None:
    plain = sample_library.ask("and where was that?")
    follow = sample_library.ask(FollowUp("and where was that?", (Turn("what joint drills were mentioned?"),)))
    assert "Sea of Japan" in follow.text
    assert follow.question == "and where was that?"
    assert plain.text != follow.text


def test_documents_with_same_id_in_one_batch_keep_the_last(library: Library) -> None:
    docs = [Document("x", "s", "T", "First version of the text."), Document("x", "s", "T", "Second version of the text.")]
    report = library.ingest_documents(docs)
    assert report.added == ["x"] and library.document_text("x") == "Second version of the text."


def test_sample_article_is_shipped_in_the_package() -> None:
    assert SAMPLE_ARTICLE.is_file() and "Belousov" in SAMPLE_ARTICLE.read_text()


def test_filters_restrict_by_source_and_publication_date(library: Library, tmp_path: Path) -> None:
    corpus = tmp_path / "news.jsonl"
    rows = [
        {"id": "old", "text": "The bridge over the Vell river was closed for repairs.", "url": "https://old.example/a", "published": "2021-03-01"},
        {"id": "new", "text": "The bridge over the Vell river reopened to traffic.", "url": "https://new.example/b", "published": "March 5, 2024"},
        {"id": "undated", "text": "Engineers inspected the bridge over the Vell river.", "url": "https://new.example/c"},
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert len(library.ingest([corpus]).added) == 3
    published = {s.doc_id: s.published for s in library.sources()}
    assert published["new"] == "2024-03-05" and published["old"] == "2021-03-01"
    assert {h.doc_id for h in library.search("Vell river bridge", k=5)} == {"old", "new", "undated"}
    since = Filters(since="2022-01-01")
    assert {h.doc_id for h in library.search("Vell river bridge", k=5, filters=since)} == {"new"}
    assert {h.doc_id for h in library.search("Vell river bridge", k=5, filters=Filters(source="new.example"))} == {"new", "undated"}
    answer = library.ask("What happened to the bridge?", filters=since)
    assert {c.doc_id for c in answer.citations} <= {"new"}
    with pytest.raises(RagbotError, match="--since needs a date"):
        Filters(since="last tuesday-ish")


def test_chunks_store_no_text_of_their_own_and_libraries_written_before_still_read(library: Library) -> None:
    text = "Herons wade in shallow water. Swifts sleep on the wing."
    library.ingest_documents([Document("d", "s", "Birds", text, "2024-05-01")])
    col = library.collection()
    raw = col.chunks.get(include=["documents", "metadatas", "embeddings"])
    assert raw["documents"] == [None] * len(raw["ids"])  # no full-text index work for Chroma
    # The registry row holds the text, title, source and date once; a chunk only its offsets.
    assert all(not {"text", "text_z", "title", "source", "published"} & set(m) for m in raw["metadatas"])
    stored = col.all_chunks()
    texts = [text[m["start"] : m["end"]] for m in raw["metadatas"]]
    assert [c.text for c in stored] == texts and "Herons wade in shallow water." in texts[0]
    assert all(c.meta["title"] == "Birds" and c.meta["source"] == "s" and c.meta["published"] == "2024-05-01" for c in stored)
    assert [n.text for n in col.query(library.embedder.embed(["herons"])[0], 5)] == texts
    # A chunk whose document is registered at another version has no text to borrow: it is left out.
    col.chunks.update(ids=[raw["ids"][0]], metadatas=[{**raw["metadatas"][0], "version": "another"}])
    assert raw["ids"][0] not in {c.chunk_id for c in col.all_chunks()}
    # A library written before kept each chunk's text as Chroma's document, or in its metadata.
    col.chunks.delete(ids=raw["ids"])
    fields = {"title": "Birds", "source": "s", "published": "2024-05-01"}
    col.chunks.add(ids=raw["ids"], embeddings=raw["embeddings"], documents=texts, metadatas=[{**m, **fields} for m in raw["metadatas"]])
    assert [c.text for c in col.all_chunks()] == texts
    col.chunks.update(ids=raw["ids"], metadatas=[{**m, **fields, "text": t} for m, t in zip(raw["metadatas"], texts, strict=True)])
    assert [c.text for c in col.all_chunks()] == texts and all("text" not in c.meta for c in col.all_chunks())
    col._bump()
    hits = library.search("Which birds sleep while flying?", k=1)
    assert hits and "Swifts sleep on the wing." in hits[0].text
    answer = library.ask("Where do herons wade?")
    assert answer.answerable and "shallow water" in answer.text


def test_document_texts_are_packed_in_registry_metadata_and_libraries_written_before_still_read(library: Library) -> None:
    text = "Herons wade in shallow water. Swifts sleep on the wing. " * 20
    library.ingest_documents([Document("d", "s", "Birds", text)])
    col = library.collection()
    raw = col.docs.get(include=["documents", "metadatas", "embeddings"])
    meta = raw["metadatas"][0]
    assert raw["documents"] == [None] and "text" not in meta  # no full-text index work for Chroma
    assert unpack_text(meta["text_z"]) == text and len(meta["text_z"]) < len(text) / 4
    assert unpack_text("not packed") is None
    assert library.document_text("d") == text
    assert "text_z" not in col.document_meta(["d"])["d"] and library.sources()[0].title == "Birds"
    # Written before: the full text in metadata, plain.
    legacy = {k: v for k, v in meta.items() if k != "text_z"}
    col.docs.delete(ids=["d"])
    col.docs.add(ids=["d"], embeddings=raw["embeddings"], metadatas=[{**legacy, "text": text}])
    assert library.document_text("d") == text and col.document_texts(["d", "absent"]) == {"d": text}
    chunks = col.all_chunks()  # their texts come from the plain one
    assert chunks and all(c.text == text[c.meta["start"] : c.meta["end"]] for c in chunks)
    # Before that: the full text as Chroma's document, none in metadata.
    col.docs.delete(ids=["d"])
    col.docs.add(ids=["d"], embeddings=raw["embeddings"], documents=[text], metadatas=[legacy])
    assert library.document_text("d") == text
    # Changed since: the upsert leaves the old Chroma document and plain text behind; the packed text wins.
    col.docs.update(ids=["d"], metadatas=[{**legacy, "text": text}])
    changed = text + "Owls hunt at night."
    report = library.ingest_documents([Document("d", "s", "Birds", changed)])
    assert report.replaced == ["d"]
    stale = col.docs.get(ids=["d"], include=["documents", "metadatas"])
    assert stale["documents"] == [text] and stale["metadatas"][0]["text"] == text  # stale, ignored
    assert library.document_text("d") == changed
    chunks = col.all_chunks()
    assert chunks and all(changed[c.meta["start"] : c.meta["end"]] == c.text for c in chunks)
    answer = library.ask("When do owls hunt?")
    assert answer.answerable and all(changed[c.start : c.end] == c.quote for c in answer.citations)
