"""The store: Chroma, on disk or as a server, kept consistent with ragbot's keyword index.

Each library is three Chroma collections: `NAME` holds the chunks (vector, indexed text,
metadata), `NAME--docs` one record per document (its full text and metadata) and `NAME--log`
the change log (`changelog.py`: which documents each write touched). The chunks collection's
metadata records which embedder filled it and a version token that changes on every write, so
a keyword index knows in one read whether it must catch up.

- `client`: Chroma clients, error text and library names;
- `collection`: `Collection`, one library's writes and reads;
- `consistency`: what an interrupted write leaves, its repair, and the rows a keyword index catches up from;
- `keyword_index`, `keyword_sync`: the SQLite FTS5 keyword index beside Chroma, and its catch-up from the change log;
- `locks`, `recovery`: one writer per data dir, and reads that survive other writers and a server's restarts.
"""

from retrieval.store.client import LibraryMissing, check_name, describe_error, open_client
from retrieval.store.collection import Collection
from retrieval.store.rows import TEXT_KEY, Neighbour, StoredChunk

__all__ = ["TEXT_KEY", "Collection", "LibraryMissing", "Neighbour", "StoredChunk", "check_name", "describe_error", "open_client"]
