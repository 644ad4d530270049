"""The engine's facade: ingest, search, ask, sources, forget."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from retrieval import sentences
from retrieval.chunking import chunk_documents
from retrieval.dedup import POLICIES, Duplicate, DuplicateIndex, DuplicatePolicy, Signature, signature
from retrieval.embedding import Embedder, embedder_identity, ingesting, load_embedder
from retrieval.errors import LibraryEmpty, RagbotError
from retrieval.keyword import QUESTION_WORDS, STOPWORDS, question_terms
from retrieval.loaders import Loaded, load_sources
from retrieval.locks import LibraryLocks, NoLocks
from retrieval.recovery import forget_shared_system, read_with_recovery, shown_url
from retrieval.search import Filters, Searcher
from retrieval.keyword_index import KeywordIndex
from retrieval.settings import Settings, check_k
from retrieval.store import Collection, LibraryMissing, open_client
from retrieval.text import words
from retrieval.types import Answer, Document, Hit, IngestProblem, IngestReport, SourceInfo, Turn

ProgressFn = Callable[[int, int | None], None]
T = TypeVar("T")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


class Library:
    """ragbot's engine: everything the front-ends need, and nothing about them."""

    def __init__(
        self, settings: Settings | None = None, embedder: Embedder | None = None, client: Any | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._embedder = embedder
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
        if self._generator is None:
            from retrieval.llm import unavailable

            why = unavailable(self.settings)
            self._generator = ("extractive", f"Answering with quoted sentences instead of the local model: {why}.") if why else (self.settings.generator, None)
        return self._generator

    def warm(self, collection: str | None = None) -> None:
        """Load the models, open the store and build the keyword index now rather than on the first question."""
        self.embedder.embed(["warm up"])
        if self._exists(collection):
            self._searcher(collection).sync()
        if self.generator == "llamacpp":
            from retrieval.answer.prompts import prefix
            from retrieval.llm import chat_model

            chat_model(self.settings, "llamacpp").prime(prefix())  # type: ignore[attr-defined]

    def collection(self, name: str | None = None, create: bool = True) -> Collection:
        """The named collection (default from settings)."""
        name = name or self.settings.collection
        with self._lock:
            if name not in self._collections:
                self._collections[name] = Collection(
                    self.client, name, self.embedder_identity, create=create, index=self._keyword_index(name),
                    shared=bool(self.settings.chroma_url),
                )
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
                self._searchers[name] = Searcher(self.collection(name), self.embedder, self._keyword_index(name))
            return self._searchers[name]

    def _keyword_index(self, name: str) -> KeywordIndex:
        """The collection's keyword index file in the data dir (one per Chroma location and collection)."""
        with self._lock:
            if name not in self._indexes:
                location = self.settings.chroma_url or str((self.settings.data_dir / "chroma").resolve())
                key = hashlib.sha256(f"{location}|{name}".encode()).hexdigest()[:16]
                self._indexes[name] = KeywordIndex(self.settings.data_dir / "keyword" / f"{name[:40]}-{key}.sqlite3")
            return self._indexes[name]

    def _writable(self, name: str | None) -> Collection:
        """The collection ready for a write (writer lock held), its keyword index caught up and a killed writer's leftovers gone."""
        from retrieval.keyword_sync import catch_up

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
        from retrieval.fetch import url_loader

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

    def ingest_loaded(
        self,
        loaded: Iterable[Loaded],
        collection: str | None = None,
        progress: ProgressFn | None = None,
        batch: int = 1024,
        duplicates: DuplicatePolicy | None = None,
        batch_chars: int = 400_000,
    ) -> IngestReport:
        """Chunk, embed and store loaded documents in batches (of `batch` documents or about `batch_chars` characters).

        Big batches keep the embedder's length-sorted batches tightly packed (64 documents per
        batch padded SQuAD's chunks by 19%, 1,024 by 1%); progress is still reported as the
        batch is embedded.
        """
        policy = duplicates or self.settings.duplicates
        if policy not in POLICIES:
            raise RagbotError(f"duplicates must be one of {', '.join(POLICIES)}, not {policy!r}.")
        with self.locks.writing():  # one writer per library on disk; another waits for this one
            return self._ingest_loaded(loaded, collection, progress, batch, policy, batch_chars)

    def _ingest_loaded(
        self, loaded: Iterable[Loaded], collection: str | None, progress: ProgressFn | None, batch: int, policy: str,
        batch_chars: int,
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        col = self._writable(collection)
        seen = self._duplicate_index(col)
        pending: list[Document] = []
        pending_chars = 0
        done = 0

        def flush() -> None:
            nonlocal done, pending, pending_chars
            size = len(pending)
            partial = (lambda f: progress(done + int(f * size), None)) if progress else None
            done += self._ingest_batch(col, pending, report, seen, policy, on_embedded=partial)
            pending, pending_chars = [], 0
            if progress:
                progress(done, None)

        with ingesting(self.embedder):  # a session tuned for back-to-back batches while this ingest runs
            for item in loaded:
                if item.duplicate:
                    report.duplicates.append(item.duplicate)
                if item.problem:
                    report.problems.append(item.problem)
                elif item.document:
                    pending.append(item.document)
                    pending_chars += len(item.document.text)
                    if len(pending) >= batch or pending_chars >= batch_chars:
                        flush()
            if pending:
                flush()
        report.seconds = time.perf_counter() - started
        return report

    @staticmethod
    def _duplicate_index(col: Collection) -> DuplicateIndex:
        """Signatures of the documents already in the library (computed for ones stored without)."""
        index = DuplicateIndex()
        stored = col.registry_meta("minhash")
        sources = {s.doc_id: s.source for s in col.documents()}
        missing = [d for d in sources if Signature.decode(stored.get(d, "")) is None]  # stored before signatures existed
        texts = col.document_texts(missing) if missing else {}
        for doc_id, source in sources.items():
            sig = Signature.decode(stored.get(doc_id, "")) or signature(texts.get(doc_id, ""))
            index.add(doc_id, source, sig)
        return index

    def _ingest_batch(
        self, col: Collection, docs: list[Document], report: IngestReport, seen: DuplicateIndex, policy: str,
        on_embedded: Callable[[float], None] | None = None,
    ) -> int:
        latest: dict[str, Document] = {d.doc_id: d for d in docs}  # a later copy of the same id wins
        known = col.document_meta(list(latest))
        todo = []
        unchanged = [d.doc_id for d in latest.values() if known.get(d.doc_id, {}).get("content_hash") == d.content_hash]
        # An unchanged document may still carry leftovers of an interrupted write: retire them, redo short ones.
        with self.locks.step():
            redo = set(col.reconcile(unchanged))
        signatures: dict[str, Signature] = {}
        for doc in latest.values():
            if doc.doc_id in unchanged and doc.doc_id not in redo:
                report.unchanged.append(doc.doc_id)
                continue
            sig = signatures[doc.doc_id] = signature(doc.text)
            match = seen.best_match(doc.doc_id, sig)
            if match:
                action = "skipped" if policy == "skip" and doc.doc_id not in known else "kept"
                report.duplicates.append(Duplicate(doc.doc_id, doc.source, match[0], match[1], match[2], action))
                if action == "skipped":
                    continue
            seen.add(doc.doc_id, doc.source, sig)
            todo.append(doc)
        tokenizer = self.embedder.tokenizer
        chunked = list(zip(todo, chunk_documents(todo, tokenizer, self.settings.chunk_tokens, self.settings.chunk_overlap_tokens), strict=True))
        pairs = [(d.title, c.text) for d, chunks in chunked for c in chunks]
        vectors, sentence_vectors = self._embed_in_slices(pairs, on_embedded) if pairs else (None, [])
        chunk_ids = [c.chunk_id for _, chunks in chunked for c in chunks]
        per_chunk = dict(zip(chunk_ids, sentence_vectors, strict=True))
        at = 0
        writes = []
        for doc, chunks in chunked:
            if not chunks:
                report.problems.append(IngestProblem(doc.source, "no sentences could be found in it."))
                seen.remove(doc.doc_id)
                continue
            assert vectors is not None
            writes.append((doc, chunks, [c.text for c in chunks], vectors[at : at + len(chunks)]))
            at += len(chunks)
        # one set of Chroma calls per batch, not per document
        with self.locks.step():  # questions in other processes wait for this step rather than catch it half-done
            col.write_documents(
                writes, registry_extra={d.doc_id: {"minhash": signatures[d.doc_id].encode()} for d, *_ in writes}, sentence_vectors=per_chunk
            )
        for doc, chunks, _, _ in writes:
            report.chunks += len(chunks)
            (report.replaced if doc.doc_id in known else report.added).append(doc.doc_id)
        return len(latest)

    def _embed_in_slices(
        self, chunks: list[tuple[str, str]], on_embedded: Callable[[float], None] | None, size: int = 512
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Embed (title, text) chunks shortest first in slices of `size`, reporting the share done after each.

        Returns the chunk vectors and, from the same forward passes, each chunk's sentence vectors.
        """
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i][0]) + len(chunks[i][1]))
        vectors = np.zeros((len(chunks), self.embedder.dim), dtype=np.float32)
        per_sentence: list[np.ndarray] = [np.zeros((0, self.embedder.dim), dtype=np.float32)] * len(chunks)
        for lo in range(0, len(order), size):
            idx = order[lo : lo + size]
            vecs, parts = sentences.embed_chunks(self.embedder, [chunks[i][0] for i in idx], [chunks[i][1] for i in idx])
            vectors[idx] = vecs
            for i, part in zip(idx, parts, strict=True):
                per_sentence[i] = part
            if on_embedded:
                on_embedded(min(1.0, (lo + size) / len(order)))
        return vectors, per_sentence

    # -- questions ----------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        """The question, cleaned; a clear error when it is empty or too long."""
        question = _ANSI_ESCAPE.sub(" ", question)  # terminal colour codes pasted along with a question
        cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in question).split())
        if not cleaned:
            raise RagbotError("The question is empty: type a question about the articles.")
        limit = self.settings.max_question_chars
        if len(cleaned) > limit:
            raise RagbotError(f"The question is {len(cleaned):,} characters long; the limit is {limit:,} (RAGBOT_MAX_QUESTION_CHARS).")
        return cleaned

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
        question: str,
        k: int | None = None,
        collection: str | None = None,
        filters: Filters | None = None,
        generator: str | None = None,
        history: Sequence[Turn] = (),
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """A cited answer to the question, or the fixed cannot-answer reply.

        `history` holds the earlier turns of the same conversation (oldest first); a follow-up
        ("and where was that?") is retrieved by `contextual_query`, with the topic they carry.
        `on_token` receives a generative backend's draft tokens as they arrive.
        """
        from retrieval.answer.extractive import compose

        t0 = time.perf_counter()
        question = self.check_question(question)
        k = self.settings.k if k is None else check_k(k)
        generator = generator or self.generator
        self._read(lambda: self._require_collection(collection))
        query = contextual_query(question, history)
        vector = self.embedder.embed([query])[0]
        t1 = time.perf_counter()

        def retrieve() -> tuple[Searcher, list[Hit]]:
            searcher = self._searcher(collection)
            return searcher, searcher.search(query, k, filters, vector=vector)

        searcher, hits = self._read(retrieve)  # the library before another process's write step, or after it
        if not hits:
            self._require_documents(collection)
        t2 = time.perf_counter()
        idf = searcher.idf()  # document frequencies from the keyword index
        if generator == "extractive":
            answer = compose(query, hits, self.embedder, idf, vector, searcher.sentence_vectors)
            answer.question = question
        else:
            from retrieval.answer.generative import generate

            answer = generate(
                query, hits, self.settings, self.embedder, idf, vector, generator=generator, on_token=on_token,
                stored=searcher.sentence_vectors,
            )
            answer.question = question
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

    def document_text(self, doc_id: str, collection: str | None = None) -> str | None:
        """A stored document's full text (what citation offsets point into)."""
        return self._read(lambda: self.collection(collection).document_text(doc_id) if self._exists(collection) else None)


FOLLOW_UP_TERMS = 3
# Topic words a follow-up carries over: enough to find the passage again, few enough that the
# follow-up's own words still decide which of its sentences answers.
TOPIC_WORDS = 12
# Words by which a follow-up points back at the conversation ("where was that?", "who said it?");
# "this year" or "that week" point at a time, not back.
_REFERS_BACK = re.compile(
    r"\b(it|its|that|this|those|these|they|them|their|there|he|him|his|she|her|one|ones|former|latter|same)\b"
    r"(?!\s+(?:year|month|week|day|time)s?\b)",
    re.IGNORECASE,
)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1, "latter": -1, "former": 0}
_ORDINAL = re.compile(rf"\b({'|'.join(_ORDINALS)})\b", re.IGNORECASE)
_NAME = re.compile(r"\b(?:[A-Z][\w’'-]*|\d[\d.,]*)")


def contextual_query(question: str, history: Sequence[Turn]) -> str:
    """A standalone retrieval query for the question, given the conversation so far (oldest turn first).

    A question with enough terms of its own that does not point back is asked as is. A
    follow-up ("and where was that?", "what was the second one?") carries the topic: the last
    question's content words and the names and numbers of the latest answer that cited
    anything (a chain of follow-ups keeps only a pronoun of its topic, the quotes keep it all).
    An ordinal ("the second one") takes the words of that quote only. This is the one place
    a follow-up is rewritten.
    """
    if not history:
        return question
    if len(question_terms(question)) >= FOLLOW_UP_TERMS and not _REFERS_BACK.search(question):
        return question
    quotes = next((t.quotes for t in reversed(history) if t.quotes), ())
    ordinal = _ORDINAL.search(question)
    if ordinal:  # "the first one": of the latest answer that listed more than one thing
        index = _ORDINALS[ordinal.group(1).lower()]
        listed = next((t.quotes for t in reversed(history) if len(t.quotes) >= max(2, index + 1)), ())
        quotes = (listed[index],) if listed else quotes
    # The last question's words only stand in for quotes: they would outweigh the follow-up's own.
    asked = [] if quotes else [w for w in words(history[-1].question) if w not in STOPWORDS and w not in QUESTION_WORDS]
    named = [w for q in quotes for w in _NAME.findall(q) if w.lower() not in STOPWORDS]
    own = set(words(question))
    topic = list(dict.fromkeys(w for w in asked + named if w.lower() not in own))[:TOPIC_WORDS]
    return f"{question} {' '.join(topic)}".strip()
