"""The ingest pipeline: loaded documents -> near-duplicate check -> chunks -> vectors -> one write per batch.

`Library.ingest*` hold the writer lock and hand the pipeline a writable collection; each batch's
store writes run inside a lock step, so a question in another process sees the library before the
step or after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from retrieval.embedding import Embedder, ingesting, sentences
from retrieval.ingest.chunking import chunk_documents
from retrieval.ingest.dedup import DuplicateIndex, Signature, signature
from retrieval.ingest.loaders import Loaded
from retrieval.settings import Settings
from retrieval.store import Collection
from retrieval.store.keyword_index import KeywordIndex
from retrieval.store.keyword_sync import fill_bands
from retrieval.store.locks import LibraryLocks, NoLocks
from retrieval.types import Document, Duplicate, IngestProblem, IngestReport

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int | None], None]
# Chunks embedded per slice: progress is reported after each.
EMBED_SLICE = 512


class IngestPipeline:
    """Adds loaded documents to one collection, in batches of `batch` documents or about `batch_chars` characters.

    Big batches keep the embedder's length-sorted batches tightly packed (docs/performance.md
    measures the padding); progress is still reported while a batch is embedded.
    """

    def __init__(
        self, settings: Settings, embedder: Embedder, locks: LibraryLocks | NoLocks, batch: int = 1024,
        batch_chars: int = 400_000,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.locks = locks
        self.batch = batch
        self.batch_chars = batch_chars
        self._preload: threading.Thread | None = None  # Chroma reading the library's vector index (`preload_vectors`)

    def run(self, col: Collection, loaded: Iterable[Loaded], policy: str, progress: ProgressFn | None = None) -> IngestReport:
        """Ingest everything `loaded` yields into `col` (the caller holds the writer lock); problems are reported, not raised."""
        started = time.perf_counter()
        report = IngestReport()
        seen = duplicate_index(col)
        pending: list[Document] = []
        pending_chars = 0
        done = 0

        def flush() -> None:
            nonlocal done, pending, pending_chars
            size = len(pending)
            partial = (lambda f: progress(done + int(f * size), None)) if progress else None
            done += self._batch(col, pending, report, seen, policy, on_embedded=partial)
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
                    if self._preload is None:  # on another core while documents are checked, chunked and embedded
                        self._preload = preload_vectors(col, self.embedder.dim)
                    pending.append(item.document)
                    pending_chars += len(item.document.text)
                    if len(pending) >= self.batch or pending_chars >= self.batch_chars:
                        flush()
            if pending:
                flush()
        if self._preload is not None:
            self._preload.join()
        report.seconds = time.perf_counter() - started
        return report

    def _batch(
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
        keep_as_is = set(unchanged) - redo
        signatures = {d.doc_id: signature(d.text) for d in latest.values() if d.doc_id not in keep_as_is}
        seen.prefetch(signatures)  # one registry read for the batch, not one per document
        for doc in latest.values():
            if doc.doc_id not in signatures:
                report.unchanged.append(doc.doc_id)
                continue
            sig = signatures[doc.doc_id]
            match = seen.best_match(doc.doc_id, sig)
            if match:
                action = "skipped" if policy == "skip" and doc.doc_id not in known else "kept"
                report.duplicates.append(Duplicate(doc.doc_id, doc.source, match[0], match[1], match[2], action))
                if action == "skipped":
                    continue
            seen.add(doc.doc_id, doc.source, sig)
            todo.append(doc)
        s = self.settings
        chunked = list(zip(todo, chunk_documents(todo, self.embedder.tokenizer, s.chunk_tokens, s.chunk_overlap_tokens), strict=True))
        pairs = [(d.title, c.text) for d, chunks in chunked for c in chunks]
        vectors, sentence_vectors = embed_in_slices(self.embedder, pairs, on_embedded) if pairs else (None, [])
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
        if self._preload is not None:
            self._preload.join()  # long done, unless the batch was small
        # one set of Chroma calls per batch, not per document
        with self.locks.step():  # questions in other processes wait for this step rather than catch it half-done
            col.write_documents(writes, sentence_vectors=per_chunk, signatures={d.doc_id: signatures[d.doc_id] for d, *_ in writes})
        for doc, chunks, _, _ in writes:
            report.chunks += len(chunks)
            (report.replaced if doc.doc_id in known else report.added).append(doc.doc_id)
        return len(latest)


class LibrarySignatures:
    """The library's documents for the duplicate check: candidates by the local index's band keys, their signatures from the index.

    A document the index holds no signature for (a file written before it kept them, until the
    next ingest fills them) has its signature read from the registry: stored there by earlier
    versions, or made from its text.
    """

    def __init__(self, col: Collection, index: KeywordIndex) -> None:
        self.col = col
        self.index = index

    def candidates(self, keys: Sequence[int]) -> set[str]:
        return self.index.near(keys)

    def signatures(self, doc_ids: Sequence[str]) -> dict[str, tuple[Signature, str]]:
        out = self.index.signatures(doc_ids)
        rest = [d for d in doc_ids if d not in out]
        unsigned = []
        for doc_id, meta in (self.col.registered_meta(rest) if rest else {}).items():
            sig = Signature.decode(str(meta.get("minhash", "")))
            if sig is None:
                unsigned.append(doc_id)
            else:
                out[doc_id] = (sig, str(meta.get("source", "")))
        for doc_id, (meta, text) in (self.col.registered(unsigned) if unsigned else {}).items():
            out[doc_id] = (signature(text), str(meta.get("source", "")))  # stored without one: from its text
        return out


def duplicate_index(col: Collection) -> DuplicateIndex:
    """The duplicate check for an ingest into `col`: this ingest's documents and, by band key, the library's.

    An index file without band keys yet gets them first, once (a paged read of the registry).
    """
    index = col.index
    if index is None:
        return _loaded_duplicate_index(col)
    if not index.banded():
        with index.transaction():
            if not index.banded():
                fill_bands(index, col)
    return DuplicateIndex(LibrarySignatures(col, index))


def _loaded_duplicate_index(col: Collection) -> DuplicateIndex:
    """Every registered document's signature in memory (a collection without a local index)."""
    index = DuplicateIndex()
    stored = col.registry_meta("minhash")
    sources = {s.doc_id: s.source for s in col.documents()}
    missing = [d for d in sources if Signature.decode(stored.get(d, "")) is None]
    texts = col.document_texts(missing) if missing else {}
    for doc_id, source in sources.items():
        sig = Signature.decode(stored.get(doc_id, "")) or signature(texts.get(doc_id, ""))
        index.add(doc_id, source, sig)
    return index


def preload_vectors(col: Collection, dim: int) -> threading.Thread:
    """`col.load_vectors` in a thread: an ingest's first write in a process then finds the index loaded.

    A failure here is only logged; the write that follows meets the same store and reports it.
    """

    def load() -> None:
        try:
            col.load_vectors(dim)
        except Exception as exc:  # noqa: BLE001 (a warm-up: the write reports what is wrong)
            log.debug("preloading the vector index failed: %s", exc)

    thread = threading.Thread(target=load, name="ragbot-load-vectors", daemon=True)
    thread.start()
    return thread


def embed_in_slices(
    embedder: Embedder, chunks: list[tuple[str, str]], on_embedded: Callable[[float], None] | None, size: int = EMBED_SLICE
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Embed (title, text) chunks shortest first in slices of `size`, reporting the share done after each.

    Returns the chunk vectors and, from the same forward passes, each chunk's sentence vectors.
    """
    order = sorted(range(len(chunks)), key=lambda i: len(chunks[i][0]) + len(chunks[i][1]))
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    per_sentence: list[np.ndarray] = [np.zeros((0, embedder.dim), dtype=np.float32)] * len(chunks)
    for lo in range(0, len(order), size):
        idx = order[lo : lo + size]
        vecs, parts = sentences.embed_chunks(embedder, [chunks[i][0] for i in idx], [chunks[i][1] for i in idx])
        vectors[idx] = vecs
        for i, part in zip(idx, parts, strict=True):
            per_sentence[i] = part
        if on_embedded:
            on_embedded(min(1.0, (lo + size) / len(order)))
    return vectors, per_sentence
