"""The engine's facade: ingest, search, ask, sources, forget."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from retrieval.answer.context import AnswerContext
from retrieval.embedding import Embedder, embedder_identity, load_embedder
from retrieval.errors import LibraryEmpty, RagbotError
from retrieval.ingest.dedup import POLICIES, DuplicatePolicy
from retrieval.ingest.loaders import (
    SAMPLE_ARTICLE,
    SAMPLE_DOC_ID,
    Loaded,
    estimate_total,
    load_bytes,
    load_file,
    load_sources,
)
from retrieval.ingest.pipeline import IngestPipeline, ProgressFn
from retrieval.search.query import clean_question, contextual_query
from retrieval.search.searcher import Filters, Searcher
from retrieval.settings import Settings, check_k
from retrieval.store import Collection, LibraryMissing, open_client
from retrieval.store.keyword_index import KeywordIndex
from retrieval.store.locks import LibraryLocks, NoLocks
from retrieval.store.recovery import forget_shared_system, read_with_recovery, shown_url
from retrieval.types import Answer, Document, FollowUp, Hit, IngestReport, SourceInfo, Upload

if TYPE_CHECKING:
    import numpy as np
    from langchain_core.language_models.chat_models import BaseChatModel

T = TypeVar("T")


class Library:
    """ragbot's engine: everything the front-ends need, and nothing about them."""

    def __init__(
        self, settings: Settings | None = None, embedder: Embedder | None = None, client: Any | None = None,
        notify: Callable[[str], None] | None = None, chat_model: BaseChatModel | None = None,
    ) -> None:
        """`embedder`, `client` (a Chroma client) and `chat_model` replace what the settings would load or open."""
        self.settings = settings or Settings()
        self._embedder = embedder
        self._chat_model = chat_model
        self._client = client
        self._owns_client = client is None  # only a client it opened itself may be reopened
        # What the user is told while ragbot waits (for another writer, for the Chroma server): one sentence.
        self.notify = notify or logging.getLogger("ragbot").warning
        self.locks = NoLocks() if self.settings.chroma_url else LibraryLocks(self.settings.data_dir / "locks", self._notify)
        self._collections: dict[str, Collection] = {}
        self._searchers: dict[str, Searcher] = {}
        self._indexes: dict[str, KeywordIndex] = {}
        self._lock = threading.RLock()
        self._generator: tuple[str, str | None] | None = None

    def _notify(self, message: str) -> None:
        self.notify(message)  # looked up at each call: a front-end may set `notify` after construction

    def _read(self, read: Callable[[], T]) -> T:
        """Run a read of the store between write steps; again on a reopened client, or while the Chroma server is away."""

        def locked() -> T:
            with self.locks.step(shared=True):
                return read()

        server = shown_url(self.settings.chroma_url) if self.settings.chroma_url else None
        return read_with_recovery(locked, self._reopen, self._notify, server, self.settings.chroma_retry_seconds)

    def _reopen(self) -> None:
        """Drop the client, collections and searchers so the next read opens the library as it is on disk now."""
        with self._lock:
            if self._owns_client and self._client is not None:
                forget_shared_system(self._client)
                self._client = None
            self._collections.clear()
            self._searchers.clear()

    def close(self) -> None:
        """Let go of the store: the Chroma client and the keyword index files (their write-ahead logs are folded in). A later call opens them again."""
        self._reopen()
        with self._lock:
            for index in self._indexes.values():
                index.close()
            self._indexes.clear()

    # -- resources ----------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use (once per process)."""
        if self._embedder is None:
            s = self.settings
            self._embedder = load_embedder(s.embed_model, s.embed_backend, s.models_dir, s.embed_batch_size)
        return self._embedder

    @property
    def embedder_identity(self) -> str:
        """Model and backend of the configured embedder, known without loading it."""
        if self._embedder is not None:
            return self._embedder.identity
        return embedder_identity(self.settings.embed_model, self.settings.embed_backend)

    @property
    def client(self) -> Any:
        """The Chroma client, opened on first use."""
        with self._lock:
            if self._client is None:
                self._client = open_client(self.settings)
            return self._client

    @property
    def generator(self) -> str:
        """The generator questions use unless told otherwise: the configured one, or extractive when it cannot run here."""
        return self._resolve_generator()[0]

    @property
    def generator_note(self) -> str | None:
        """One sentence saying why the configured generator is not used here, or None."""
        return self._resolve_generator()[1]

    def _resolve_generator(self) -> tuple[str, str | None]:
        if self._generator is None and (self._chat_model is not None or self.settings.generator == "extractive"):
            self._generator = (self.settings.generator, None)  # no language model to check (nor LangChain to import)
        if self._generator is None:
            from retrieval.llm import unavailable

            why = unavailable(self.settings)
            self._generator = ("extractive", f"Answering with quoted sentences instead of the local model: {why}.") if why else (self.settings.generator, None)
        return self._generator

    def warm(self, collection: str | None = None) -> None:
        """Load the models, open the store, its vector index and the keyword index now rather than on the first question or ingest."""
        self.embedder.embed(["warm up"])
        if self._exists(collection):
            self._searcher(collection).sync()
            self.collection(collection).load_vectors(self.embedder.dim)
        if self.generator == "llamacpp":
            from retrieval.answer.prompts import prefix
            from retrieval.llm import chat_model

            model = self._chat_model or chat_model(self.settings, "llamacpp")
            prime = getattr(model, "prime", None)  # llama.cpp's prompt cache, filled with the fixed prompt prefix
            if prime is not None:
                prime(prefix())

    def collection(self, name: str | None = None, create: bool = True) -> Collection:
        """The named collection (default from settings)."""
        name = name or self.settings.collection
        with self._lock:
            if name not in self._collections:
                col = Collection(self.client, name, self.embedder_identity, create=create, shared=bool(self.settings.chroma_url))
                col.index = self._keyword_index(name, str(col.chunks.id))
                self._collections[name] = col
            return self._collections[name]

    def _exists(self, name: str | None) -> bool:
        name = name or self.settings.collection
        if name in self._collections:
            return True
        try:
            self.collection(name, create=False)
        except LibraryMissing:  # any other problem (e.g. an embedder mismatch) is the user's to see
            return False
        return True

    def _require_collection(self, name: str | None) -> None:
        """Raise LibraryEmpty when the collection was never created: "not found" would mislead."""
        if not self._exists(name):
            raise LibraryEmpty(name or self.settings.collection)

    def _require_documents(self, name: str | None) -> None:
        """Raise LibraryEmpty when the collection holds no chunks (asked only when nothing was found, to spare a count)."""
        if self.collection(name).count() == 0:
            raise LibraryEmpty(name or self.settings.collection)

    def _searcher(self, name: str | None) -> Searcher:
        name = name or self.settings.collection
        with self._lock:
            if name not in self._searchers:
                col = self.collection(name)
                assert col.index is not None
                self._searchers[name] = Searcher(col, self.embedder, col.index)
            return self._searchers[name]

    def _keyword_index(self, name: str, collection_id: str) -> KeywordIndex:
        """The collection's keyword index file in the data dir.

        Named after the Chroma collection's id, which a data dir keeps when it is moved or copied
        and a collection made again does not. An index named the earlier way, after the Chroma
        location's absolute path, is used where it exists (a library indexed before keeps its file).
        """
        folder = self.settings.data_dir / "keyword"
        path = folder / f"{name[:40]}-{hashlib.sha256(collection_id.encode()).hexdigest()[:16]}.sqlite3"
        if not path.exists():
            location = self.settings.chroma_url or str((self.settings.data_dir / "chroma").resolve())
            legacy = folder / f"{name[:40]}-{hashlib.sha256(f'{location}|{name}'.encode()).hexdigest()[:16]}.sqlite3"
            path = legacy if legacy.exists() else path
        with self._lock:
            index = self._indexes.get(name)
            if index is None or index.path != path:
                if index is not None:
                    index.close()
                index = self._indexes[name] = KeywordIndex(path)
            return index

    def _writable(self, name: str | None) -> Collection:
        """The collection ready for a write (writer lock held), its keyword index caught up and a killed writer's leftovers gone."""
        from retrieval.store.keyword_sync import catch_up

        col = self.collection(name)
        assert col.index is not None
        catch_up(col.index, col, opening=True, writing=True)
        return col

    # -- ingest -------------------------------------------------------------------------------
    def ingest(
        self,
        inputs: Iterable[str | Path],
        collection: str | None = None,
        progress: ProgressFn | None = None,
        duplicates: DuplicatePolicy | None = None,
    ) -> IngestReport:
        """Load files, folders, JSONL corpora and web pages (URLs) and add them; problems are reported, good inputs still land.

        `duplicates` ("keep" or "skip", default RAGBOT_DUPLICATES) decides what happens to a
        document that nearly repeats one already in the library; either way the report lists it.
        """
        from retrieval.ingest.fetch import url_loader

        loaded = load_sources([str(i) for i in inputs], self.settings.max_file_bytes, fetch=url_loader(self.settings),
                              duplicates=duplicates or self.settings.duplicates)
        return self.ingest_loaded(loaded, collection, progress, duplicates=duplicates)

    def ingest_documents(
        self,
        documents: Iterable[Document],
        collection: str | None = None,
        progress: ProgressFn | None = None,
        duplicates: DuplicatePolicy | None = None,
    ) -> IngestReport:
        """Add documents; an unchanged document is left alone, a changed one replaces its old chunks."""
        return self.ingest_loaded((Loaded(document=d) for d in documents), collection, progress, duplicates=duplicates)

    def ingest_uploads(
        self, uploads: Sequence[Upload], collection: str | None = None, duplicates: DuplicatePolicy | None = None
    ) -> IngestReport:
        """Add files received as bytes (a chat attachment): each is read by its name's suffix, as a file on disk would be."""
        policy = duplicates or self.settings.duplicates
        loaded = [item for u in uploads for item in load_bytes(u.name, u.data, u.source, u.doc_id, duplicates=policy)]
        return self.ingest_loaded(loaded, collection, duplicates=duplicates)

    def ingest_sample(self, collection: str | None = None) -> IngestReport:
        """Add the bundled sample article (what the REPL starts from in an empty library)."""
        return self.ingest_loaded(load_file(SAMPLE_ARTICLE, self.settings.max_file_bytes, doc_id=SAMPLE_DOC_ID), collection)

    def ingest_loaded(
        self,
        loaded: Iterable[Loaded],
        collection: str | None = None,
        progress: ProgressFn | None = None,
        duplicates: DuplicatePolicy | None = None,
    ) -> IngestReport:
        """Chunk, embed and store loaded documents, one writer at a time per library on disk (`IngestPipeline`)."""
        policy = duplicates or self.settings.duplicates
        if policy not in POLICIES:
            raise RagbotError(f"duplicates must be one of {', '.join(POLICIES)}, not {policy!r}.")
        with self.locks.writing():  # one writer per library on disk; another waits for this one
            pipeline = IngestPipeline(self.settings, self.embedder, self.locks)
            return pipeline.run(self._writable(collection), loaded, policy, progress)

    @staticmethod
    def estimate_ingest(inputs: Iterable[str | Path]) -> int | None:
        """How many documents `ingest(inputs)` will load, when that can be told cheaply (for a progress bar)."""
        return estimate_total([str(i) for i in inputs])

    # -- questions ----------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        """The question, cleaned; a clear error when it is empty or too long (RAGBOT_MAX_QUESTION_CHARS)."""
        return clean_question(question, self.settings.max_question_chars)

    def search(
        self, query: str, k: int | None = None, collection: str | None = None, filters: Filters | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """The best k chunks for a query (`vector`: the query's embedding, when already computed)."""
        query = self.check_question(query)
        k = self.settings.k if k is None else check_k(k)
        self._read(lambda: self._require_collection(collection))
        hits = self._read(lambda: self._searcher(collection).search(query, k, filters, vector=vector))
        if not hits:
            self._require_documents(collection)
        return hits

    def ask(
        self,
        question: str | FollowUp,
        k: int | None = None,
        collection: str | None = None,
        filters: Filters | None = None,
        generator: str | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """A cited answer to the question, or the fixed cannot-answer reply.

        A `FollowUp` carries the earlier turns of the same conversation; a follow-up ("and where
        was that?") is retrieved by `contextual_query`, with the topic they carry. `on_token`
        receives a generative backend's draft tokens as they arrive.
        """
        from retrieval.answer.extractive import compose

        t0 = time.perf_counter()
        history = question.history if isinstance(question, FollowUp) else ()
        question = self.check_question(question.question if isinstance(question, FollowUp) else question)
        k = self.settings.k if k is None else check_k(k)
        generator = generator or self.generator
        self._read(lambda: self._require_collection(collection))
        query = contextual_query(question, history)
        vector = self.embedder.embed([query])[0]
        t1 = time.perf_counter()

        def retrieve() -> AnswerContext:
            searcher = self._searcher(collection)
            hits = searcher.search(query, k, filters, vector=vector)
            return AnswerContext(question, hits, self.embedder, searcher.idf(), query, vector, searcher.sentence_vectors)

        ctx = self._read(retrieve)  # the library before another process's write step, or after it
        if not ctx.hits:
            self._require_documents(collection)
        t2 = time.perf_counter()
        if generator == "extractive":
            answer = compose(ctx)
        else:
            from retrieval.answer.generative import generate

            answer = generate(ctx, self.settings, generator=generator, on_token=on_token, model=self._chat_model)
        t3 = time.perf_counter()
        answer.timings_ms = {"embed": (t1 - t0) * 1000, "retrieve": (t2 - t1) * 1000, "compose": (t3 - t2) * 1000, "total": (t3 - t0) * 1000}
        return answer

    # -- library ------------------------------------------------------------------------------
    def sources(self, collection: str | None = None) -> list[SourceInfo]:
        """The documents in the library."""
        return self._read(lambda: self.collection(collection).documents() if self._exists(collection) else [])

    def forget(self, doc_id: str, collection: str | None = None) -> bool:
        """Remove a document; False when the library did not hold it."""
        with self.locks.writing(), self.locks.step():
            if not self._exists(collection):
                return False
            return self._writable(collection).delete_document(doc_id)

    def resolve_doc_id(self, ref: str, collection: str | None = None) -> str:
        """The doc_id a person means by `ref`: an id, the path or URL it was ingested from, or a unique start of either."""
        from retrieval.ingest.references import resolve_doc_id

        return resolve_doc_id(ref, [s.doc_id for s in self.sources(collection)])

    def document_text(self, doc_id: str, collection: str | None = None) -> str | None:
        """A stored document's full text (what citation offsets point into)."""
        return self._read(lambda: self.collection(collection).document_text(doc_id) if self._exists(collection) else None)
