"""Chroma clients (on disk, or a server over HTTP), error text without secrets, and library names."""

from __future__ import annotations

import re
from typing import Any

from retrieval.errors import RagbotError
from retrieval.settings import Settings

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}[a-zA-Z0-9]$")
DOCS_SUFFIX = "--docs"


class LibraryMissing(RagbotError):
    """The named library does not exist (yet)."""


def open_client(settings: Settings) -> Any:
    """A Chroma client for these settings: HttpClient when RAGBOT_CHROMA_URL is set, else on disk."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise RagbotError(f"RAGBOT_CHROMA_URL must look like http://host:port, not {settings.chroma_url!r}.")
        headers = {}
        if settings.chroma_token:
            headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                headers=headers,
                settings=chroma_settings,
            )
        except Exception as exc:
            reason = describe_error(exc)
            shown = f"{url.scheme}://{url.hostname}:{url.port or ''}".rstrip(":")  # never echo a user:password@
            if "RAGBOT_CHROMA_TOKEN" in reason:
                raise RagbotError(f"The Chroma server at {shown} refused ragbot: check RAGBOT_CHROMA_TOKEN.") from exc
            raise RagbotError(f"Could not reach the Chroma server at {shown} (RAGBOT_CHROMA_URL): {reason}") from exc
    path = settings.data_dir / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise RagbotError(f"Could not open the library in {path} (RAGBOT_DATA_DIR): {exc}") from exc


def describe_error(exc: BaseException) -> str:
    """A short, secret-free reason for a failed Chroma call (a refused token is named as such)."""
    text = " ".join(str(exc).split())
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403) or any(w in text for w in ("401", "403", "Unauthorized", "Forbidden")):
        return "the Chroma server refused the request: check RAGBOT_CHROMA_TOKEN"
    if "<html" in text.lower():
        text = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(exc).__name__


def check_name(name: str) -> str:
    """Validate a collection name (3-62 characters: letters, digits, dot, dash, underscore)."""
    if not _NAME.match(name) or ".." in name or name.endswith(DOCS_SUFFIX):
        raise RagbotError(f"{name!r} is not a valid collection name: use 3-62 letters, digits, '.', '-' or '_'.")
    return name

