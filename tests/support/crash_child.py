"""Child process for the crash test: ingest a JSONL corpus, optionally freezing inside a write, until SIGKILLed.

Usage: python -m tests.support.crash_child DATA_DIR CORPUS MODE PAUSE_AFTER
MODE "run" ingests freely (the parent kills it at a moment of its choosing); "after-chunks" and
"after-registry" freeze inside the write of batch PAUSE_AFTER + 1 (earlier batches complete):
after its new chunks are stored (registry untouched), or after the registry points at them
(old chunks not yet deleted). "forget" forgets the corpus's documents one by one, freezing in
forget PAUSE_AFTER + 1 after its registry entry is gone and before its chunks are deleted.
"after-write" freezes once Chroma holds batch PAUSE_AFTER's write but before the keyword index
does. The parent then kills it there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from retrieval.embedding import load_embedder
from retrieval.library import Library
from retrieval.settings import Settings
from tests.support.helpers import HashingEmbedder
from tests.support.paths import MODELS_DIR


def main() -> None:
    data_dir, corpus, mode, pause_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    settings = Settings(_env_file=None, data_dir=Path(data_dir), model_cache_dir=MODELS_DIR)  # type: ignore[call-arg]
    lib = Library(settings, embedder=HashingEmbedder(load_embedder(None, "onnx", MODELS_DIR).tokenizer))
    col = lib.collection()
    calls = 0

    def freeze_before(obj: Any, name: str) -> None:
        original = getattr(obj, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls > pause_after:
                print("frozen", flush=True)
                time.sleep(3600)
            return original(*args, **kwargs)

        setattr(obj, name, wrapper)

    if mode == "forget":
        import json

        freeze_before(col.chunks, "delete")
        with Path(corpus).open() as lines:
            for n, line in enumerate(lines, start=1):
                lib.forget(str(json.loads(line)["id"]))
                print(f"forgot {n}", flush=True)
        print("finished", flush=True)
        return
    if mode == "after-chunks":
        freeze_before(col.docs, "upsert")
    elif mode == "after-registry":
        freeze_before(col.chunks, "delete")
    elif mode == "after-write":
        assert col.index is not None
        freeze_before(col.index, "transaction")  # the first call catches up before ingesting

    def progress(n: int, _total: int | None) -> None:
        print(f"done {n}", flush=True)

    lib.ingest([corpus], progress=progress)
    print("finished", flush=True)


if __name__ == "__main__":
    main()
