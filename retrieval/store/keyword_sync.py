"""Keeping a keyword index in step with Chroma: catch up from the change log, reconcile after a crash, or rebuild.

Catching up costs one Chroma read when nothing changed (the version token) and, after a write,
a read of the log's new event ids plus the chunks of the documents those events name: in
proportion to what changed, not to the library. A full rebuild (paged, memory-bounded) happens
only for a new index file, one of another format, or one older than the log's retention.
"""

from __future__ import annotations

import logging
import time

from retrieval.store import Collection
from retrieval.store.changelog import SLACK_NS
from retrieval.store.keyword_index import KeywordIndex

log = logging.getLogger(__name__)

_DOCS_PER_READ = 500  # documents re-read per Chroma call while catching up


def catch_up(index: KeywordIndex, col: Collection, opening: bool = False, writing: bool = False) -> str:
    """Bring the index up to the collection's current version and return that version.

    `opening` (a process's first look at the library) also reads the log when the version
    token seems unchanged: a writer killed before its first version bump left an intent event.
    Its leftovers in Chroma are cleaned up only by a caller `writing` (holding the writer lock):
    a reader never writes to Chroma, and reads hide leftovers anyway (only registered versions show).
    """
    version = col.version()
    if not opening and index.get("seen_version") == version:
        return version
    with index.transaction():
        if not opening and index.get("seen_version") == version:  # another process on this file caught up meanwhile
            return version
        watermark = int(index.get("watermark") or -1)
        if watermark < 0 or watermark < col.log.pruned_before():
            rebuild(index, col)
        else:
            _apply_log(index, col, watermark, writing)
        index.put("seen_version", version)
    return version


def _apply_log(index: KeywordIndex, col: Collection, watermark: int, writing: bool) -> None:
    """Re-read the documents named by log events the index has not applied, and clean up after dead writers."""
    ids = col.log.event_ids_after(watermark - SLACK_NS)
    done_already = index.applied(ids)
    events = col.log.events([i for i in ids if i not in done_already])
    touched: set[str] = set()
    for event in events:
        touched.update(event.doc_ids)
        if event.kind == "intent":
            index.add_pending(event)
        else:
            index.drop_pending(event.write_id)
    for event in index.pending():
        if writing and event.writer_is_dead():
            # Its write will never finish: chunks it stored without pointing the registry at them
            # (or old ones it did not get to delete) would be in Chroma and nowhere else.
            gone = col.retire_leftovers(list(event.doc_ids))
            log.info("cleaned %d chunks left by an interrupted write (process %d)", gone, event.pid)
            touched.update(event.doc_ids)
            index.drop_pending(event.write_id)
    resync(index, col, sorted(touched))
    index.mark_applied(events)
    newest = max((int(i.split("-", 1)[0]) for i in ids if i.split("-", 1)[0].isdigit()), default=watermark)
    watermark = max(watermark, newest)
    index.put("watermark", str(watermark))
    index.forget_applied_before(watermark - 2 * SLACK_NS)


def resync(index: KeywordIndex, col: Collection, doc_ids: list[str]) -> int:
    """Make the index hold these documents as Chroma does now; returns how many changed."""
    changed = 0
    for lo in range(0, len(doc_ids), _DOCS_PER_READ):
        part = doc_ids[lo : lo + _DOCS_PER_READ]
        have = index.versions(part)
        for doc_id, current in col.current_rows(part).items():
            if current is None:
                if doc_id in have:
                    index.remove([doc_id])
                    changed += 1
            elif have.get(doc_id) != current[0]:
                index.replace(doc_id, current[0], current[1], signature=current[2])
                changed += 1
    return changed


def fill_bands(index: KeywordIndex, col: Collection) -> None:
    """Give the index every registered document's signature and band keys, read a page at a time (inside the caller's transaction).

    Once per index file: one written before signatures were kept in it, or rebuilt. Writes keep them since.
    """
    for page in col.signature_pages():
        for doc_id, sig in page:
            index.set_signature(doc_id, sig)
    index.put("bands", "complete")


def rebuild(index: KeywordIndex, col: Collection) -> None:
    """Index the whole library afresh from Chroma, a page at a time (inside the caller's transaction)."""
    started = time.time_ns()  # events from now on are applied again by the next catch-up
    index.clear()
    registry = col.registry_versions()
    for page in col.chunk_pages():
        by_doc: dict[str, list] = {}
        for version, row in page:
            if registry.get(row.doc_id) == version:
                by_doc.setdefault(row.doc_id, []).append(row)
        for doc_id, rows in by_doc.items():
            index.add(doc_id, registry[doc_id], rows)
    fill_bands(index, col)
    index.put("watermark", str(started))
