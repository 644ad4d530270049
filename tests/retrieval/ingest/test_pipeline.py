"""The ingest pipeline's load of Chroma's vector index beside the model's work, on a real on-disk Chroma.

The embedded Chroma client reads a collection's whole HNSW index at its first use in a process;
the pipeline has it read in a thread while the documents are checked, chunked and embedded, so that
the first write finds it loaded (docs/scale.md, "Ingest into a large library").
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from retrieval import Library
from retrieval.ingest import pipeline
from retrieval.ingest.loaders import Loaded
from retrieval.settings import Settings
from retrieval.store import Collection
from retrieval.types import Document, IngestProblem

FERRY = Document("ferry", "ferry.txt", "Ferry timetable", "The night ferry to Skerra leaves the north pier at ten.")
BEES = Document("bees", "bees.txt", "Bees", "Honey bees dance to tell the hive where the flowers are.")
BOATS = Document("boats", "boats.txt", "Boats", "Rowing boats can be hired at the lake from May to September.")


def test_the_vector_index_is_read_beside_the_batch_being_embedded(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    library.ingest_documents([FERRY])
    embedding = threading.Event()
    waited: list[bool] = []
    load_vectors, embed_in_slices = Collection.load_vectors, pipeline.embed_in_slices

    def load(self: Collection, dim: int) -> None:
        waited.append(embedding.wait(timeout=60))  # False if the load had to finish before embedding could start
        load_vectors(self, dim)

    def embed(*args: Any, **kwargs: Any) -> Any:
        embedding.set()
        return embed_in_slices(*args, **kwargs)

    monkeypatch.setattr(Collection, "load_vectors", load)
    monkeypatch.setattr(pipeline, "embed_in_slices", embed)
    report = library.ingest_documents([BEES])
    assert waited == [True]
    assert report.added == ["bees"] and library.search("Why do honey bees dance?", k=1)[0].doc_id == "bees"


def test_an_ingest_whose_index_load_fails_still_writes_everything(
    library: Library, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    library.ingest_documents([FERRY])

    def broken(self: Collection, dim: int) -> None:
        raise OSError("the disk went away")

    monkeypatch.setattr(Collection, "load_vectors", broken)
    with caplog.at_level(logging.DEBUG, logger="retrieval.ingest.pipeline"):
        report = library.ingest_documents([BEES])
    assert report.added == ["bees"] and not report.problems
    assert "the disk went away" in caplog.text
    assert {s.doc_id for s in library.sources()} == {"ferry", "bees"}
    assert library.search("Why do honey bees dance?", k=1)[0].doc_id == "bees"


def test_the_index_is_read_once_per_ingest_and_not_for_nothing(
    library: Library, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    library.ingest_documents([FERRY])
    calls: list[int] = []
    monkeypatch.setattr(Collection, "load_vectors", lambda self, dim: calls.append(dim))
    report = library.ingest_loaded([Loaded(problem=IngestProblem("empty.txt", "it is empty."))])
    assert report.problems and calls == []  # no document: nothing to write
    one_per_batch = pipeline.IngestPipeline(settings, library.embedder, library.locks, batch=1)
    with library.locks.writing():
        report = one_per_batch.run(library.collection(), [Loaded(document=BEES), Loaded(document=BOATS)], "keep")
    assert report.added == ["bees", "boats"] and calls == [library.embedder.dim]
