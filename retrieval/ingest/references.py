"""A document named the way a person names it (its id, the path it was ingested from, a unique start) -> its doc_id."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from retrieval.errors import RagbotError
from retrieval.ingest.loaders import is_url

SHOWN_MATCHES = 10


def resolve_doc_id(ref: str, doc_ids: Sequence[str]) -> str:
    """The one doc_id `ref` names: exactly, as a path resolved as ingest resolves it, or as a unique prefix."""
    ref = ref.strip()
    if not ref:
        raise RagbotError("Name the document to forget: its id from `ragbot sources`, or the path it was ingested from.")
    known = set(doc_ids)
    if ref in known:
        return ref
    forms = [ref]
    if not is_url(ref):
        forms.append(str(Path(ref).expanduser().resolve()))  # what ingest stores as a file's doc_id
        if forms[-1] in known:
            return forms[-1]
    matches = sorted({d for d in doc_ids for form in forms if d.startswith(form)})
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RagbotError(f"There is no document {ref!r} in the library (see `ragbot sources`).")
    shown = ", ".join(matches[:SHOWN_MATCHES]) + (f" and {len(matches) - SHOWN_MATCHES} more" if len(matches) > SHOWN_MATCHES else "")
    raise RagbotError(f"{ref!r} starts the ids of {len(matches)} documents ({shown}); give more of the id.")
