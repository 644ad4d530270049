"""Child process for the many-processes test: a Library on a Chroma server, driven by JSON lines on stdin.

Usage: python -m tests.support.library_child DATA_DIR CHROMA_URL COLLECTION
Each input line is {"op": "search", "q": ...}, {"op": "ingest", "doc": {...}} or {"op": "forget", "id": ...};
each output line is {"ok": true, "hits": [doc ids], "rebuilds": n} (rebuilds: full keyword-index rebuilds so far).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from retrieval.embedding import load_embedder
from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.store import keyword_sync
from retrieval.types import Document
from tests.support.helpers import HashingEmbedder
from tests.support.paths import MODELS_DIR

rebuilds = 0
_rebuild = keyword_sync.rebuild


def _counting_rebuild(*args: Any, **kwargs: Any) -> None:
    global rebuilds
    rebuilds += 1
    _rebuild(*args, **kwargs)


def main() -> None:
    data_dir, url, collection = sys.argv[1], sys.argv[2], sys.argv[3]
    keyword_sync.rebuild = _counting_rebuild
    settings = Settings(_env_file=None, data_dir=Path(data_dir), model_cache_dir=MODELS_DIR, chroma_url=url, collection=collection)  # type: ignore[call-arg]
    lib = Library(settings, embedder=HashingEmbedder(load_embedder(None, "onnx", MODELS_DIR).tokenizer))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        hits: list[str] = []
        if cmd["op"] == "search":
            hits = [h.doc_id for h in lib.search(cmd["q"], k=3)]
        elif cmd["op"] == "ingest":
            lib.ingest_documents([Document(**cmd["doc"])])
        elif cmd["op"] == "forget":
            lib.forget(cmd["id"])
        print(json.dumps({"ok": True, "hits": hits, "rebuilds": rebuilds}), flush=True)


if __name__ == "__main__":
    main()
