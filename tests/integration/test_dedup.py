"""Near-duplicate articles (one wire story on two sites) are reported at ingest; keep or skip is the user's choice."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from retrieval.ingest.dedup import THRESHOLD, DuplicateIndex, Signature, band_keys, containment, signature
from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.store import keyword_sync
from retrieval.store.keyword_index import KeywordIndex
from retrieval.types import Document
from tests.support.articles import WIRE_PARAGRAPHS, ArticleServer
from tests.support.cli import RAGBOT, cli_env


def test_signatures_estimate_shared_text() -> None:
    story = " ".join(WIRE_PARAGRAPHS)
    cut = " ".join(WIRE_PARAGRAPHS[:-2])  # the same story cut short
    other = " ".join(reversed(WIRE_PARAGRAPHS[:2])) + " An entirely different closing about cherry harvests in the Betuwe region this July."
    assert containment(signature(story), signature(story)) == 1.0
    assert containment(signature(story), signature(cut)) >= 0.9
    assert containment(signature(story), signature(other)) < THRESHOLD
    assert signature(story).encode() == signature(story).encode()  # stable across calls (and processes: fixed seeds)


def test_signatures_round_trip_compactly_and_hex_ones_written_before_still_read() -> None:
    sig = signature(" ".join(WIRE_PARAGRAPHS))
    stored = sig.encode()
    assert len(stored) < 700  # base85: 640 characters for 128 hashes, where hex took 1,024
    back = Signature.decode(stored)
    assert back is not None and back.size == sig.size and (back.mins == sig.mins).all()
    hexed = f"{sig.size}:{sig.mins.astype('>u4').tobytes().hex()}"
    old = Signature.decode(hexed)
    assert old is not None and (old.mins == sig.mins).all()
    assert Signature.decode(stored[:-5]) is None and Signature.decode("12:not~base85\x00") is None and Signature.decode("") is None


def test_signatures_decode_as_the_base85_reference_does() -> None:
    import base64

    import numpy as np

    rng = np.random.default_rng(3)
    for n in range(300):
        mins = rng.integers(0, 2**32, size=128, dtype=np.uint64).astype(np.uint32)
        mins[: n % 7] = 0xFFFFFFFF  # the largest words, the edge of base85's range
        packed = Signature(mins, 40 + n).encode()
        back = Signature.decode(packed)
        assert back is not None and back.size == 40 + n
        assert back.mins.tolist() == np.frombuffer(base64.b85decode(packed.split(":", 1)[1]), dtype=">u4").tolist()
    assert Signature.decode("9:" + "~" * 640) is None  # every group past 2^32: base64.b85decode refuses it too
    assert Signature.decode("9:" + "é" * 640) is None


def test_squad_neighbours_are_not_duplicates(shared_data: Path) -> None:
    """Passages of one Wikipedia article share a topic and names, not text: none may be flagged."""
    rows = [json.loads(line) for line in (shared_data / "squad-v1.1-dev" / "passages.jsonl").open()][:400]
    index = DuplicateIndex()
    flagged = []
    for row in rows:
        sig = signature(row["text"])
        if index.best_match(row["id"], sig):
            flagged.append(row["id"])
        index.add(row["id"], row["id"], sig)
    assert flagged == []


def test_wire_copy_is_reported_and_kept_by_default(article_server: ArticleServer, library: Library) -> None:
    library.settings.allowed_hosts = ["127.0.0.1"]
    first, copy, other = (article_server.url(p) for p in ("/article.html", "/wire-copy.html", "/other.html"))
    assert library.ingest([first, other]).duplicates == []
    report = library.ingest([copy])
    assert report.added == [copy]
    [dup] = report.duplicates
    assert (dup.doc_id, dup.of_doc_id, dup.action) == (copy, first, "kept") and dup.similarity >= THRESHOLD
    assert f"{copy} looks like a near-duplicate of {first}" in str(dup)
    assert len(library.sources()) == 3
    assert library.ingest([copy]).duplicates == []  # unchanged documents are not re-checked


def test_skip_leaves_the_copy_out(article_server: ArticleServer, library: Library) -> None:
    library.settings.allowed_hosts = ["127.0.0.1"]
    first, copy = article_server.url("/article.html"), article_server.url("/wire-copy.html")
    report = library.ingest([first, copy], duplicates="skip")  # a copy within one ingest counts too
    assert report.added == [first]
    assert [(d.doc_id, d.of_doc_id, d.action) for d in report.duplicates] == [(copy, first, "skipped")]
    assert [s.doc_id for s in library.sources()] == [first]


def test_a_new_version_of_the_same_document_is_not_its_own_duplicate(library: Library) -> None:
    text = " ".join(WIRE_PARAGRAPHS)
    doc = Document(doc_id="a", source="a.txt", title="Barrier", text=text)
    library.ingest_documents([doc])
    report = library.ingest_documents([Document(doc_id="a", source="a.txt", title="Barrier", text=text + " Updated at noon.")], duplicates="skip")
    assert report.replaced == ["a"] and report.duplicates == []


def test_cli_reports_and_skips(article_server: ArticleServer, settings: Settings, tmp_path: Path) -> None:
    env = cli_env(settings, RAGBOT_ALLOWED_HOSTS="127.0.0.1")
    first, copy = article_server.url("/article.html"), article_server.url("/wire-copy.html")
    kept = subprocess.run([RAGBOT, "ingest", first, copy], env=env, cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600)
    assert kept.returncode == 0, kept.stderr
    assert f"{copy} looks like a near-duplicate of {first}" in kept.stderr and "kept." in kept.stderr
    skipped = subprocess.run(
        [RAGBOT, "ingest", "--duplicates", "skip", "--collection", "other", first, copy, "--json"],
        env=env, cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600,
    )
    assert skipped.returncode == 0, skipped.stderr
    summary = json.loads(skipped.stdout)
    assert summary["added"] == 1 and [d["action"] for d in summary["duplicates"]] == ["skipped"]


def test_documents_stored_without_a_signature_are_still_compared(library: Library) -> None:
    """Libraries written before signatures existed: the registry text is used instead."""
    from retrieval.ingest.chunking import chunk_document

    old = Document(doc_id="old", source="old.txt", title="Barrier", text=" ".join(WIRE_PARAGRAPHS))
    chunks = chunk_document(old, library.embedder.tokenizer, 200, 40)
    library.collection().write_documents([(old, chunks, [c.text for c in chunks], library.embedder.embed([c.text for c in chunks]))])
    assert "old" not in library.collection().registry_meta("minhash")
    copy = Document(doc_id="copy", source="copy.txt", title="Barrier again", text=" ".join(WIRE_PARAGRAPHS[:-1]))
    assert [(d.doc_id, d.of_doc_id) for d in library.ingest_documents([copy]).duplicates] == [("copy", "old")]


def _refuse_registry_scans(library: Library, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Fail on any read of the whole registry; record which documents' registry rows are read."""
    col = library.collection()
    read: list[list[str]] = []
    originals = {"registered": col.registered, "registered_meta": col.registered_meta}

    def scan(*_a: object, **_k: object) -> None:
        raise AssertionError("the duplicate check read the whole registry")

    def spying(name: str):  # the spy for one of the two registry reads
        def spy(doc_ids: Sequence[str]) -> dict:
            read.append(list(doc_ids))
            return originals[name](doc_ids)

        return spy

    for name in ("registry_meta", "documents", "signature_pages"):
        monkeypatch.setattr(col, name, scan)
    for name in originals:
        monkeypatch.setattr(col, name, spying(name))
    return read


def test_a_later_ingest_finds_the_copy_by_band_keys_without_reading_the_library(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    story = Document("story", "story.txt", "Barrier", " ".join(WIRE_PARAGRAPHS))
    others = [Document(f"n{i}", f"n{i}.txt", "Other", f"Note {i}: the ferry timetable changes on Monday for the winter season, number {i}.") for i in range(30)]
    library.ingest_documents([story, *others])
    read = _refuse_registry_scans(library, monkeypatch)
    copy = Document("copy", "copy.txt", "Barrier again", " ".join(WIRE_PARAGRAPHS[:-1]))
    [dup] = library.ingest_documents([copy]).duplicates
    assert (dup.doc_id, dup.of_doc_id, dup.similarity >= THRESHOLD) == ("copy", "story", True)
    assert read == []  # the one candidate's signature came from the keyword index, with the band keys


def test_signatures_are_kept_in_the_keyword_index_not_the_registry(library: Library) -> None:
    story = Document("story", "story.txt", "Barrier", " ".join(WIRE_PARAGRAPHS))
    library.ingest_documents([story])
    col = library.collection()
    assert col.index is not None
    [(sig, source)] = col.index.signatures(["story", "absent"]).values()
    assert source == "story.txt" and (sig.mins == signature(story.text).mins).all() and sig.size == signature(story.text).size
    assert "minhash" not in col.registered_meta(["story"])["story"]  # 640 characters less per registry row, twice (table and index)
    other = KeywordIndex(library.settings.data_dir / "elsewhere.sqlite3")  # another process's index catches up from the registry text
    with other.transaction():
        keyword_sync.resync(other, col, ["story"])
    assert (other.signatures(["story"])["story"][0].mins == sig.mins).all()


def test_signatures_round_trip_as_the_index_keeps_them() -> None:
    sig = signature(" ".join(WIRE_PARAGRAPHS))
    back = Signature.from_bytes(sig.to_bytes())
    assert len(sig.to_bytes()) == 4 * 129 and back is not None and back.size == sig.size and (back.mins == sig.mins).all()
    assert Signature.from_bytes(sig.to_bytes()[:-4]) is None and Signature.from_bytes(None) is None


def test_an_index_written_before_it_kept_signatures_gets_them_once(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its documents' signatures come from the registry until the next ingest fills them in, once."""
    story = Document("story", "story.txt", "Barrier", " ".join(WIRE_PARAGRAPHS))
    library.ingest_documents([story])
    col = library.collection()
    assert col.index is not None
    path = col.index.path
    with col.index.transaction():  # the file as the earlier version wrote it: band keys, no signature column
        col.index._db.execute("ALTER TABLE signed DROP COLUMN sig")
    library.close()
    reopened = Library(library.settings, embedder=library.embedder)
    index = reopened.collection().index
    assert index is not None and index.path == path and not index.banded() and index.signatures(["story"]) == {}
    copy = Document("copy", "copy.txt", "Barrier again", " ".join(WIRE_PARAGRAPHS[:-1]))
    assert [(d.doc_id, d.of_doc_id) for d in reopened.ingest_documents([copy]).duplicates] == [("copy", "story")]
    assert index.banded() and set(index.signatures(["story", "copy"])) == {"story", "copy"}
    read = _refuse_registry_scans(reopened, monkeypatch)
    again = Document("again", "again.txt", "Barrier, third copy", " ".join(WIRE_PARAGRAPHS))
    assert {d.of_doc_id for d in reopened.ingest_documents([again]).duplicates} <= {"story", "copy"}
    assert read == []
    reopened.close()


def test_forgotten_and_replaced_documents_leave_no_band_keys(library: Library) -> None:
    story = Document("story", "story.txt", "Barrier", " ".join(WIRE_PARAGRAPHS))
    library.ingest_documents([story])
    index = library.collection().index
    assert index is not None and index.near(band_keys(signature(story.text))) == {"story"}
    changed = Document("story", "story.txt", "Cherries", "An entirely different text about cherry harvests in the Betuwe region this July. " * 6)
    library.ingest_documents([changed])
    assert index.near(band_keys(signature(story.text))) == set() and index.near(band_keys(signature(changed.text))) == {"story"}
    library.forget("story")
    assert index.near(band_keys(signature(changed.text))) == set()
    assert index._db.execute("SELECT count(*) FROM band").fetchone()[0] == 0


def test_an_index_without_band_keys_gets_them_once(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index file written before band keys (or rebuilt) is filled from the registry by the next ingest, once."""
    story = Document("story", "story.txt", "Barrier", " ".join(WIRE_PARAGRAPHS))
    library.ingest_documents([story])
    index = library.collection().index
    assert index is not None and index.banded()
    with index.transaction():
        index._db.execute("DELETE FROM band")
        index._db.execute("DELETE FROM signed")
        index._db.execute("DELETE FROM state WHERE key = 'bands'")
    copy = Document("copy", "copy.txt", "Barrier again", " ".join(WIRE_PARAGRAPHS[:-1]))
    assert [(d.doc_id, d.of_doc_id) for d in library.ingest_documents([copy]).duplicates] == [("copy", "story")]
    assert index.banded() and index.near(band_keys(signature(story.text))) >= {"story"}
    _refuse_registry_scans(library, monkeypatch)  # filled: the next ingest reads no more than its candidates
    again = Document("again", "again.txt", "Barrier, third copy", " ".join(WIRE_PARAGRAPHS))
    assert {d.of_doc_id for d in library.ingest_documents([again]).duplicates} <= {"story", "copy"}


def test_another_process_writes_reach_this_index_with_their_band_keys(library: Library, tmp_path: Path) -> None:
    """Catching up from the change log (another process's write, on a server) brings the band keys along."""
    story = Document("story", "story.txt", "Barrier", " ".join(WIRE_PARAGRAPHS))
    library.ingest_documents([story])
    other = KeywordIndex(tmp_path / "other-process.sqlite3")
    with other.transaction():
        assert keyword_sync.resync(other, library.collection(), ["story"]) == 1
    assert other.near(band_keys(signature(story.text))) == {"story"}
    with other.transaction():
        keyword_sync.rebuild(other, library.collection())
    assert other.banded() and other.near(band_keys(signature(story.text))) == {"story"}


def test_band_key_lookup_takes_more_keys_than_sqlite_binds_at_once(library: Library) -> None:
    story = Document("story", "story.txt", "Barrier", " ".join(WIRE_PARAGRAPHS))
    library.ingest_documents([story])
    index = library.collection().index
    assert index is not None
    many = list(range(300_000)) + band_keys(signature(story.text))  # past SQLite's 250,000 bound variables
    assert index.near(many) == {"story"}
