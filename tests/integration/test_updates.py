"""Re-ingesting a changed document: readers never see two versions, a half-written one, or nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from retrieval.embedding import Embedder
from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.types import Document

QUERY = "Quarry Bay ferry pier timetable"
MARKERS = ("amber", "cobalt")


def ferry(version: int) -> Document:
    """A document long enough for several chunks, every sentence naming its version's marker."""
    marker = MARKERS[version % 2]
    sentences = [
        f"The Quarry Bay ferry pier timetable {marker} edition number {version} lists sailing {n} at {6 + n % 14}:{(n * 7) % 60:02d}."
        for n in range(60)
    ]
    return Document(doc_id="news:ferry", source="https://example.org/ferry", title="Quarry Bay ferry timetable", text=" ".join(sentences))


NEIGHBOUR = Document(
    doc_id="news:tram", source="https://example.org/tram", title="Tram depot", text="The tram depot at North Point was repainted green in March."
)


def versions_seen(lib: Library) -> set[str]:
    """The markers in the ferry document's hits (one search, fresh keyword index if the store changed)."""
    hits = [h for h in lib.search(QUERY, k=20) if h.doc_id == "news:ferry"]
    assert hits, "the document vanished from search"
    ids = [h.chunk_id for h in hits]
    assert len(ids) == len(set(ids)), "a chunk was returned twice"
    return {m for h in hits for m in MARKERS if m in h.text}


def test_reader_sees_one_whole_version_at_every_step_of_a_write(any_settings: Settings, embedder: Embedder) -> None:
    """Stop the writer before each of its Chroma calls and search with two readers right then.

    One reader is fresh (its first look at the library), one has been searching since before
    the write (its keyword index can be stale).
    """
    writer = Library(any_settings, embedder=embedder)
    writer.ingest_documents([ferry(0), NEIGHBOUR])
    col = writer.collection()
    steady = Library(any_settings, embedder=embedder)
    assert versions_seen(steady) == {"amber"}
    seen: list[tuple[str, set[str], set[str]]] = []

    def look(step: str) -> None:
        seen.append((step, versions_seen(Library(any_settings, embedder=embedder)), versions_seen(steady)))

    def pause_before(obj: Any, name: str, step: str) -> None:
        original: Callable[..., Any] = getattr(obj, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            look(step)
            return original(*args, **kwargs)

        setattr(obj, name, wrapper)

    pause_before(col.chunks, "upsert", "new chunks")
    pause_before(col.docs, "upsert", "registry")
    pause_before(col.chunks, "delete", "delete old chunks")
    pause_before(col, "_bump", "bump")
    assert writer.ingest_documents([ferry(1)]).replaced == ["news:ferry"]
    look("after")
    steps = [step for step, *_ in seen]
    assert steps == ["new chunks", "bump", "registry", "bump", "delete old chunks", "bump", "after"], steps
    fresh, old = [f for _, f, _ in seen], [o for *_, o in seen]
    # One whole version at every step: old at least until the registry points at the new one,
    # new once the write is done (a keyword index takes the new version when the write's "done"
    # event is in the change log, after the old chunks are gone), and never old again after new.
    for view in (fresh, old):
        assert all(len(v) == 1 for v in view), seen
        switch = view.index({"cobalt"})
        assert switch >= 4 and view[switch:] == [{"cobalt"}] * (len(view) - switch), seen


def test_concurrent_reader_during_repeated_reingests(any_settings: Settings, embedder: Embedder) -> None:
    """A reader thread searches non-stop while a writer replaces the document again and again."""
    writer = Library(any_settings, embedder=embedder)
    reader = Library(any_settings, embedder=embedder)
    writer.ingest_documents([ferry(0), NEIGHBOUR])
    stop = threading.Event()
    observed: list[set[str]] = []
    failures: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                observed.append(versions_seen(reader))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for version in range(1, 13):
            assert writer.ingest_documents([ferry(version)]).replaced == ["news:ferry"]
    finally:
        stop.set()
        thread.join()
    assert not failures, failures[0]
    assert observed and all(len(s) == 1 for s in observed), [s for s in observed if len(s) != 1][:3]
    assert {m for s in observed for m in s} == set(MARKERS)  # the reader really saw the document change
    assert versions_seen(reader) == {"amber"}  # version 12 is the last written
    assert writer.collection().problems() == {"orphan_chunks": [], "stale_chunks": [], "incomplete_documents": []}
