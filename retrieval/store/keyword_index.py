"""The keyword index of one library: SQLite FTS5 over each chunk's analysed terms, on disk, updated per document.

FTS5 keeps the postings and ranks with its bm25(); ragbot keeps its own analysis (Snowball
stems, stopwords, the title header line, `retrieval/terms.py`) by indexing the analysed terms,
one token each, in a contentless table. Beside it a plain table holds what a hit shows (text,
offsets, title, source, date) so a search needs no Chroma read for them; for a local library
also each chunk's sentence vectors (4-bit, `retrieval/embedding/sentences.py`), their only copy; one row per
document with its indexed version (the registry's content hash), which is what catching up
and reconciling compare; and each document's MinHash signature with its LSH band keys, which
the near-duplicate check reads instead of the registry. Chunk vectors stay in Chroma only.

Several processes may share the file (WAL mode): each write is one transaction.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from retrieval.minhash import Signature, band_keys
from retrieval.store.changelog import Event
from retrieval.terms import terms
from retrieval.text import indexed_text

FORMAT = "2"  # bump when the analysis or the schema changes: an index of another format is rebuilt
_PLAIN = re.compile(r"[a-z0-9_]+")
_CACHE_KIB = 64 * 1024  # SQLite page cache per connection: memory stays bounded whatever the library's size
_WAL_LIMIT = 8 * 1024 * 1024  # bytes of write-ahead log kept after a checkpoint (it is truncated back to this)
# Postings one search may score: a query's rarest terms are matched while their document
# frequencies add up to at most this (docs/scale.md, "Search time at scale"), so a search's cost
# stops growing with the library once its common terms' postings would pass it.
POSTINGS_BUDGET = 10_000


def _into_wal(db: sqlite3.Connection, wait_s: float = 60.0) -> None:
    """Switch the file to WAL mode, retrying while another process holds it.

    Two processes opening a new file at once both try the switch, and SQLite answers the
    loser "database is locked" at once, without waiting out the busy timeout.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _pack_keys(keys: Sequence[int]) -> bytes:
    """A document's band keys as one blob (what deleting them needs): 4 bytes each."""
    return b"".join(int(k).to_bytes(4, "big") for k in keys)


def _unpack_keys(blob: bytes) -> list[int]:
    return [int.from_bytes(blob[i : i + 4], "big") for i in range(0, len(blob), 4)]


def pack(text: str) -> bytes:
    """A chunk's text as the index stores it: zlib-compressed (a text column may hold bytes)."""
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 6)


def unpack(stored: str | bytes) -> str:
    """A stored chunk text (indexes written before hold plain text)."""
    return stored if isinstance(stored, str) else zlib.decompress(stored).decode("utf-8", "surrogatepass")


def token(term: str) -> str:
    """An analysed term as one FTS5 token (terms with other characters are hex-encoded, so no tokenizer splits them)."""
    return term if _PLAIN.fullmatch(term) else "__" + term.encode("utf-8", "surrogatepass").hex()


def chunk_tokens(title: str, text: str) -> str:
    """The FTS5 content of a chunk: the tokens of its indexed text (title header and body), space-separated."""
    return " ".join(token(t) for t in terms(indexed_text(title, text)))


@dataclass(frozen=True)
class Row:
    """What the index holds of one chunk (everything a hit shows)."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    published: str
    start: int
    end: int
    ordinal: int
    text: str

    def meta(self) -> dict[str, Any]:
        """The row as chunk metadata (the shape filters read)."""
        return {"doc_id": self.doc_id, "source": self.source, "title": self.title, "published": self.published,
                "start": self.start, "end": self.end, "ordinal": self.ordinal}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunk(
    rowid INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL, source TEXT NOT NULL,
    title TEXT NOT NULL, published TEXT NOT NULL, start_at INTEGER NOT NULL, end_at INTEGER NOT NULL,
    ordinal INTEGER NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunk_doc ON chunk(doc_id);
CREATE TABLE IF NOT EXISTS doc(doc_id TEXT PRIMARY KEY, version TEXT NOT NULL) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(terms, content='', tokenize="unicode61 remove_diacritics 0 tokenchars '_'");
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(fts, 'row');
CREATE TABLE IF NOT EXISTS sentence(rowid INTEGER PRIMARY KEY, vecs BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS applied(event_id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending(write_id TEXT PRIMARY KEY, event TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signed(docno INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, keys BLOB NOT NULL, sig BLOB);
CREATE TABLE IF NOT EXISTS band(key INTEGER NOT NULL, docno INTEGER NOT NULL, PRIMARY KEY(key, docno)) WITHOUT ROWID;
"""
_COLUMNS = "chunk_id, doc_id, source, title, published, start_at, end_at, ordinal, text"


class KeywordIndex:
    """One library's keyword index in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=60.0, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._df: dict[str, int] = {}
        self._size: int | None = None
        self.budget = POSTINGS_BUDGET  # postings a search may score (`matched_terms`)
        db = self._db
        _into_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        db.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT}")
        with self.transaction():
            for statement in _SCHEMA.split(";"):  # not executescript: it would commit halfway
                if statement.strip():
                    db.execute(statement)
            if self.get("format") not in (None, FORMAT):
                self._clear()
            self.put("format", FORMAT)
            if "sig" not in {str(r[1]) for r in db.execute("PRAGMA table_info(signed)")}:
                # A file written before signatures were kept here: its band keys are filled again,
                # with the signatures, by the next ingest (`pipeline.duplicate_index`), once.
                db.execute("ALTER TABLE signed ADD COLUMN sig BLOB")
                db.execute("DELETE FROM state WHERE key = 'bands'")

    def close(self) -> None:
        """Close the file (the last connection to close folds the write-ahead log into it)."""
        with self._lock:
            self._db.close()

    # -- state ---------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        """A value kept with the index (None when unset)."""
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, value: str) -> None:
        """Keep a value with the index (inside the caller's transaction)."""
        self._db.execute("INSERT INTO state(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (taken at once: two processes catching up never interleave)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._df.clear()
            self._size = None

    def _clear(self) -> None:
        for table in ("chunk", "sentence", "doc", "applied", "pending", "state", "signed", "band"):
            self._db.execute(f"DELETE FROM {table}")
        self._db.execute("INSERT INTO fts(fts) VALUES('delete-all')")

    def clear(self) -> None:
        """Empty the index (inside the caller's transaction)."""
        self._clear()
        self.put("format", FORMAT)

    # -- documents -----------------------------------------------------------------------------
    def versions(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """The indexed version of these documents (absent: not indexed)."""
        out: dict[str, str] = {}
        for lo in range(0, len(doc_ids), 500):
            part = list(doc_ids[lo : lo + 500])
            q = f"SELECT doc_id, version FROM doc WHERE doc_id IN ({','.join('?' * len(part))})"
            out.update({str(d): str(v) for d, v in self._db.execute(q, part)})
        return out

    def remove(self, doc_ids: Iterable[str]) -> None:
        """Drop these documents' chunks (inside the caller's transaction)."""
        db = self._db
        for doc_id in doc_ids:
            for rowid, title, text in db.execute("SELECT rowid, title, text FROM chunk WHERE doc_id = ?", (doc_id,)).fetchall():
                # A contentless table forgets a row when told the tokens it was indexed with.
                db.execute("INSERT INTO fts(fts, rowid, terms) VALUES('delete', ?, ?)", (rowid, chunk_tokens(title, unpack(text))))
                db.execute("DELETE FROM sentence WHERE rowid = ?", (rowid,))
            db.execute("DELETE FROM chunk WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM doc WHERE doc_id = ?", (doc_id,))
            self._drop_bands(doc_id)

    def replace(
        self, doc_id: str, version: str, rows: Sequence[Row], sentences: Mapping[str, bytes] | None = None,
        signature: Signature | None = None,
    ) -> None:
        """Make these rows the document's only chunks, with their sentence vectors and near-duplicate signature if given (inside the caller's transaction)."""
        self.remove([doc_id])
        if signature is not None:
            self.set_signature(doc_id, signature)
        db = self._db
        for r in rows:
            cur = db.execute(
                f"INSERT INTO chunk({_COLUMNS}) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (r.chunk_id, r.doc_id, r.source, r.title, r.published, r.start, r.end, r.ordinal, pack(r.text)),
            )
            db.execute("INSERT INTO fts(rowid, terms) VALUES(?, ?)", (cur.lastrowid, chunk_tokens(r.title, r.text)))
            blob = (sentences or {}).get(r.chunk_id)
            if blob is not None:
                db.execute("INSERT INTO sentence(rowid, vecs) VALUES(?, ?)", (cur.lastrowid, blob))
        db.execute("INSERT INTO doc(doc_id, version) VALUES(?, ?)", (doc_id, version))

    def add(self, doc_id: str, version: str, rows: Sequence[Row]) -> None:
        """Add rows of a document not indexed yet, or more rows of its version (a rebuild, page by page)."""
        db = self._db
        for r in rows:
            cur = db.execute(
                f"INSERT INTO chunk({_COLUMNS}) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(chunk_id) DO NOTHING",
                (r.chunk_id, r.doc_id, r.source, r.title, r.published, r.start, r.end, r.ordinal, pack(r.text)),
            )
            if cur.rowcount:
                db.execute("INSERT INTO fts(rowid, terms) VALUES(?, ?)", (cur.lastrowid, chunk_tokens(r.title, r.text)))
        db.execute("INSERT INTO doc(doc_id, version) VALUES(?, ?) ON CONFLICT(doc_id) DO UPDATE SET version = excluded.version", (doc_id, version))

    # -- near-duplicate bands -----------------------------------------------------------------
    def set_signature(self, doc_id: str, sig: Signature) -> None:
        """Keep a document's MinHash signature and its LSH band keys, replacing earlier ones (inside the caller's transaction)."""
        self._drop_bands(doc_id)
        unique = sorted(set(band_keys(sig)))
        cur = self._db.execute("INSERT INTO signed(doc_id, keys, sig) VALUES(?, ?, ?)", (doc_id, _pack_keys(unique), sig.to_bytes()))
        self._db.executemany("INSERT INTO band(key, docno) VALUES(?, ?)", [(k, cur.lastrowid) for k in unique])

    def signatures(self, doc_ids: Sequence[str]) -> dict[str, tuple[Signature, str]]:
        """These documents' signatures and sources, where this index keeps them (a file written before signatures has none)."""
        out: dict[str, tuple[Signature, str]] = {}
        with self._lock:
            for lo in range(0, len(doc_ids), 500):
                part = list(doc_ids[lo : lo + 500])
                q = (f"SELECT s.doc_id, s.sig, (SELECT c.source FROM chunk c WHERE c.doc_id = s.doc_id LIMIT 1) FROM signed s "
                     f"WHERE s.doc_id IN ({','.join('?' * len(part))})")
                for doc_id, raw, source in self._db.execute(q, part):
                    sig = Signature.from_bytes(raw)
                    if sig is not None and source is not None:
                        out[str(doc_id)] = (sig, str(source))
        return out

    def _drop_bands(self, doc_id: str) -> None:
        row = self._db.execute("SELECT docno, keys FROM signed WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is not None:
            self._db.executemany("DELETE FROM band WHERE key = ? AND docno = ?", [(k, row[0]) for k in _unpack_keys(row[1])])
            self._db.execute("DELETE FROM signed WHERE docno = ?", (row[0],))

    def near(self, keys: Sequence[int]) -> set[str]:
        """Documents with any of these band keys."""
        if not keys:
            return set()
        out: set[str] = set()
        keys = list(keys)
        with self._lock:
            for lo in range(0, len(keys), 2000):  # a batch's keys can pass SQLite's limit on bound variables
                part = keys[lo : lo + 2000]
                q = f"SELECT DISTINCT s.doc_id FROM band b JOIN signed s ON s.docno = b.docno WHERE b.key IN ({','.join('?' * len(part))})"
                out.update(str(r[0]) for r in self._db.execute(q, part))
        return out

    def banded(self) -> bool:
        """Whether every indexed document's band keys are here (an index written before bands, or rebuilt, has none yet)."""
        return self.get("bands") == "complete"

    # -- the change log's bookkeeping ---------------------------------------------------------------
    def mark_applied(self, events: Iterable[Event]) -> None:
        """Remember that these log events are reflected here (inside the caller's transaction)."""
        self._db.executemany("INSERT OR IGNORE INTO applied(event_id, at) VALUES(?, ?)", [(e.event_id, e.at) for e in events])

    def applied(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these events are reflected here."""
        out: set[str] = set()
        for lo in range(0, len(event_ids), 500):
            part = list(event_ids[lo : lo + 500])
            q = f"SELECT event_id FROM applied WHERE event_id IN ({','.join('?' * len(part))})"
            out.update(str(r[0]) for r in self._db.execute(q, part))
        return out

    def forget_applied_before(self, at: int) -> None:
        """Drop the memory of events stamped before `at` (no reader fetches them again)."""
        self._db.execute("DELETE FROM applied WHERE at < ?", (at,))

    def add_pending(self, event: Event) -> None:
        """Remember a write that has begun but not been seen to finish."""
        self._db.execute("INSERT OR REPLACE INTO pending(write_id, event) VALUES(?, ?)", (event.write_id, json.dumps(asdict(event))))

    def drop_pending(self, write_id: str) -> None:
        """Forget a write that finished (or was cleaned up after)."""
        self._db.execute("DELETE FROM pending WHERE write_id = ?", (write_id,))

    def pending(self) -> list[Event]:
        """Writes begun and not seen to finish."""
        out = []
        for (raw,) in self._db.execute("SELECT event FROM pending"):
            d = json.loads(raw)
            out.append(Event(**{**d, "doc_ids": tuple(d["doc_ids"])}))
        return out

    # -- questions -----------------------------------------------------------------------------
    def __len__(self) -> int:
        if self._size is None:
            with self._lock:
                self._size = int(self._db.execute("SELECT count(*) FROM chunk").fetchone()[0])
        return self._size

    def chunk_ids(self) -> set[str]:
        """Every indexed chunk id (for checks: it reads the whole table)."""
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT chunk_id FROM chunk")}

    def documents(self) -> int:
        """Number of indexed documents."""
        return int(self._db.execute("SELECT count(*) FROM doc").fetchone()[0])

    def search(
        self, query_terms: Sequence[str], limit: int, allows: Callable[[str, str], bool] | None = None, budget: int | None = None
    ) -> list[tuple[str, float]]:
        """The best `limit` chunks by BM25 for these analysed terms: (chunk_id, score > 0), best first.

        A repeated term counts again. `allows(source, published)` restricts the chunks searched.
        Only `matched_terms` are searched (within `budget`, by default the index's): scoring the
        long postings of common terms was most of a search's time in a large library.
        """
        if not query_terms:
            return []
        match = " OR ".join(f'"{token(t)}"' for t in self.matched_terms(query_terms, budget))
        with self._lock:
            if allows is None:
                sql = "SELECT rowid, -bm25(fts) FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT ?"
                found = [(int(r), float(x)) for r, x in self._db.execute(sql, (match, limit)) if x > 0]
                if not found:
                    return []
                ids = dict(self._db.execute(
                    f"SELECT rowid, chunk_id FROM chunk WHERE rowid IN ({','.join('?' * len(found))})", [r for r, _ in found]
                ).fetchall())
                return [(str(ids[r]), x) for r, x in found if r in ids]
            self._db.create_function("ragbot_allows", 2, allows, deterministic=True)
            sql = ("SELECT c.chunk_id, -bm25(fts) FROM fts JOIN chunk c ON c.rowid = fts.rowid "
                   "WHERE fts MATCH ? AND ragbot_allows(c.source, c.published) ORDER BY rank LIMIT ?")
            got = self._db.execute(sql, (match, limit)).fetchall()
        return [(str(c), float(x)) for c, x in got if x > 0]

    def matched_terms(self, query_terms: Sequence[str], budget: int | None = None) -> list[str]:
        """The query terms a search matches, in query order (repeats kept): the rarest, within a postings budget.

        Terms in more than half the chunks are left out first (when others remain): FTS5's bm25()
        gives them an idf of 1e-6, so they cannot move the ranking. Then, rarest first, terms are kept while their document
        frequencies add up to at most `budget` (default: the index's; the rarest always): a term that would pass it is in
        so many chunks that its idf is low, and leaving it out bounds the rows scored. This is
        Lucene's and Elasticsearch's high-frequency cutoff without their rescoring: a chunk that
        matches a rare term is not also credited for the common ones. A term is left out only when
        the rarer ones already fill the budget, which in a library of a few thousand chunks
        takes a long question of common words.
        """
        budget = self.budget if budget is None else budget
        n = len(self)
        distinct = sorted(set(query_terms), key=lambda t: (self.doc_frequency(t), t))
        useful = [t for t in distinct if self.doc_frequency(t) <= n / 2] or distinct
        kept: set[str] = set()
        spent = 0
        for t in useful:
            df = self.doc_frequency(t)
            if kept and spent + df > budget:
                break
            kept.add(t)
            spent += df
        return [t for t in query_terms if t in kept]

    def rows(self, chunk_ids: Sequence[str]) -> dict[str, Row]:
        """The indexed rows of these chunks (chunks the index does not hold are absent)."""
        out: dict[str, Row] = {}
        with self._lock:
            for lo in range(0, len(chunk_ids), 500):
                part = list(chunk_ids[lo : lo + 500])
                q = f"SELECT {_COLUMNS} FROM chunk WHERE chunk_id IN ({','.join('?' * len(part))})"
                for r in self._db.execute(q, part):
                    out[str(r[0])] = Row(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6]), int(r[7]), unpack(r[8]))
        return out

    def sentences(self, chunk_ids: Sequence[str]) -> dict[str, bytes]:
        """The stored sentence vectors of these chunks (`retrieval.embedding.sentences.to_bytes`; chunks without them are absent)."""
        if not chunk_ids:
            return {}
        q = (f"SELECT c.chunk_id, s.vecs FROM chunk c JOIN sentence s ON s.rowid = c.rowid "
             f"WHERE c.chunk_id IN ({','.join('?' * len(chunk_ids))})")
        with self._lock:
            return {str(c): bytes(v) for c, v in self._db.execute(q, list(chunk_ids))}

    def doc_frequency(self, term: str) -> int:
        """How many chunks contain an analysed term."""
        got = self._df.get(term)
        if got is None:
            with self._lock:
                row = self._db.execute("SELECT doc FROM vocab WHERE term = ?", (token(term),)).fetchone()
            got = self._df[term] = int(row[0]) if row else 0
        return got

    def idf(self, term: str) -> float:
        """Lucene's idf of an analysed term from its document frequency (always positive; largest for an unseen term)."""
        df = self.doc_frequency(term)
        return math.log1p((max(1, len(self)) - df + 0.5) / (df + 0.5))
