"""ragbot's retrieval engine: `Library` is the facade (ingest, search, ask, sources, forget)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.library import Library
    from retrieval.settings import Settings

__all__ = ["Library", "Settings"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `ragbot --help` does not pay for Chroma or the model runtime.
    if name == "Library":
        from retrieval.library import Library

        return Library
    if name == "Settings":
        from retrieval.settings import Settings

        return Settings
    raise AttributeError(name)
