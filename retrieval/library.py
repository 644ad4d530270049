"""The engine's facade: ingest, search, ask, sources, forget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from retrieval.chunking import chunk_document
from retrieval.embedding import Embedder, load_embedder
from retrieval.errors import RagbotError
from retrieval.loaders import Loaded, load_sources
from retrieval.search import Filters, Searcher
from retrieval.settings import Settings
from retrieval.store import Collection, open_client
from retrieval.keyword import question_terms
from retrieval.types import CANNOT_ANSWER, Answer, Document, Hit, IngestProblem, IngestReport, SourceInfo

ProgressFn = Callable[[int, int | None], None]


class Library:
    """ragbot's engine: everything the front-ends need, and nothing about them."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None, client: Any | None = None) -> None:
        self.settings = settings or Settings()
        self._embedder = embedder
        self._client = client
        self._collections: dict[str, Collection] = {}
        self._searchers: dict[str, Searcher] = {}
        self._lock = threading.RLock()

    # -- resources ----------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use (once per process)."""
        if self._embedder is None:
            s = self.settings
            self._embedder = load_embedder(s.embed_model, s.embed_backend, s.models_dir, s.embed_batch_size)
        return self._embedder

    @property
    def client(self) -> Any:
        """The Chroma client, opened on first use."""
        with self._lock:
            if self._client is None:
                self._client = open_client(self.settings)
            return self._client

    def warm(self, collection: str | None = None) -> None:
        """Load the model, open the store and build the keyword index now rather than on the first question."""
        self.embedder.embed(["warm up"])
        if self._exists(collection):
            self._searcher(collection).keyword()

    def collection(self, name: str | None = None, create: bool = True) -> Collection:
        """The named collection (default from settings)."""
        name = name or self.settings.collection
        with self._lock:
            if name not in self._collections:
                self._collections[name] = Collection(self.client, name, self.embedder.identity, create=create)
            return self._collections[name]

    def _exists(self, name: str | None) -> bool:
        name = name or self.settings.collection
        if name in self._collections:
            return True
        try:
            self.collection(name, create=False)
        except RagbotError:
            return False
        return True

    def _searcher(self, name: str | None) -> Searcher:
        name = name or self.settings.collection
        with self._lock:
            if name not in self._searchers:
                self._searchers[name] = Searcher(self.collection(name), self.embedder)
            return self._searchers[name]

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, inputs: Iterable[str | Path], collection: str | None = None, progress: ProgressFn | None = None) -> IngestReport:
        """Load files, folders and JSONL corpora and add them; problems are reported, good inputs still land."""
        loaded = load_sources([str(i) for i in inputs], self.settings.max_file_bytes)
        return self.ingest_loaded(loaded, collection, progress)

    def ingest_documents(self, documents: Iterable[Document], collection: str | None = None, progress: ProgressFn | None = None) -> IngestReport:
        """Add documents; an unchanged document is left alone, a changed one replaces its old chunks."""
        return self.ingest_loaded((Loaded(document=d) for d in documents), collection, progress)

    def ingest_loaded(self, loaded: Iterable[Loaded], collection: str | None = None, progress: ProgressFn | None = None, batch: int = 64) -> IngestReport:
        """Chunk, embed and store loaded documents in batches."""
        started = time.perf_counter()
        report = IngestReport()
        col = self.collection(collection)
        pending: list[Document] = []
        done = 0
        for item in loaded:
            if item.problem:
                report.problems.append(item.problem)
            elif item.document:
                pending.append(item.document)
                if len(pending) >= batch:
                    done += self._ingest_batch(col, pending, report)
                    pending = []
                    if progress:
                        progress(done, None)
        if pending:
            done += self._ingest_batch(col, pending, report)
            if progress:
                progress(done, None)
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_batch(self, col: Collection, docs: list[Document], report: IngestReport) -> int:
        latest: dict[str, Document] = {d.doc_id: d for d in docs}  # a later copy of the same id wins
        known = col.document_meta(list(latest))
        todo = []
        for doc in latest.values():
            if known.get(doc.doc_id, {}).get("content_hash") == doc.content_hash:
                report.unchanged.append(doc.doc_id)
            else:
                todo.append(doc)
        tokenizer = self.embedder.tokenizer
        chunked = [(d, chunk_document(d, tokenizer, self.settings.chunk_tokens, self.settings.chunk_overlap_tokens)) for d in todo]
        from retrieval.chunking import indexed_text

        texts = [indexed_text(d.title, c.text) for d, chunks in chunked for c in chunks]
        vectors = self.embedder.embed(texts)
        at = 0
        for doc, chunks in chunked:
            if not chunks:
                report.problems.append(IngestProblem(doc.source, "no sentences could be found in it."))
                continue
            col.write_document(doc, chunks, [c.text for c in chunks], vectors[at : at + len(chunks)])
            at += len(chunks)
            report.chunks += len(chunks)
            (report.replaced if doc.doc_id in known else report.added).append(doc.doc_id)
        return len(latest)

    # -- questions ----------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        """The question, cleaned; a clear error when it is empty or too long."""
        cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in question).split())
        if not cleaned:
            raise RagbotError("The question is empty: type a question about the articles.")
        limit = self.settings.max_question_chars
        if len(cleaned) > limit:
            raise RagbotError(f"The question is {len(cleaned):,} characters long; the limit is {limit:,} (RAGBOT_MAX_QUESTION_CHARS).")
        return cleaned

    def search(self, query: str, k: int | None = None, collection: str | None = None, filters: Filters | None = None) -> list[Hit]:
        """The best k chunks for a query."""
        query = self.check_question(query)
        if not self._exists(collection):
            return []
        return self._searcher(collection).search(query, k or self.settings.k, filters)

    def ask(
        self,
        question: str,
        k: int | None = None,
        collection: str | None = None,
        filters: Filters | None = None,
        generator: str | None = None,
        history: Sequence[str] = (),
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """A cited answer to the question, or the fixed cannot-answer reply.

        `history` holds earlier questions of the same conversation (oldest first); a short
        follow-up ("and where was that?") is retrieved and answered together with the last one.
        `on_token` receives a generative backend's draft tokens as they arrive.
        """
        from retrieval.answer.extractive import compose

        t0 = time.perf_counter()
        question = self.check_question(question)
        generator = generator or self.settings.generator
        if not self._exists(collection):
            return Answer(question=question, text=CANNOT_ANSWER, citations=[], answerable=False, generator=generator)
        searcher = self._searcher(collection)
        query = contextual_query(question, history)
        vector = self.embedder.embed([query])[0]
        t1 = time.perf_counter()
        hits = searcher.search(query, k or self.settings.k, filters, vector=vector)
        t2 = time.perf_counter()
        idf = searcher.keyword().index.idf_of
        if generator == "extractive":
            answer = compose(query, hits, self.embedder, idf, vector)
            answer.question = question
        else:
            from retrieval.answer.generative import generate

            answer = generate(question, hits, self.settings, self.embedder, idf, vector, generator=generator, on_token=on_token)
        t3 = time.perf_counter()
        answer.timings_ms = {"embed": (t1 - t0) * 1000, "retrieve": (t2 - t1) * 1000, "compose": (t3 - t2) * 1000, "total": (t3 - t0) * 1000}
        return answer

    # -- library ------------------------------------------------------------------------------
    def sources(self, collection: str | None = None) -> list[SourceInfo]:
        """The documents in the library."""
        if not self._exists(collection):
            return []
        return self.collection(collection).documents()

    def forget(self, doc_id: str, collection: str | None = None) -> bool:
        """Remove a document; False when the library did not hold it."""
        if not self._exists(collection):
            return False
        return self.collection(collection).delete_document(doc_id)

    def document_text(self, doc_id: str, collection: str | None = None) -> str | None:
        """A stored document's full text (what citation offsets point into)."""
        return self.collection(collection).document_text(doc_id) if self._exists(collection) else None


FOLLOW_UP_TERMS = 3


def contextual_query(question: str, history: Sequence[str]) -> str:
    """The question, prefixed by the previous one when it is a short follow-up with few terms of its own."""
    if history and len(question_terms(question)) < FOLLOW_UP_TERMS:
        return f"{history[-1].strip()} {question}"
    return question
