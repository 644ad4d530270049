"""Checks on answers that several test modules make."""

from __future__ import annotations

import re

from retrieval.library import Library
from retrieval.types import Answer


def assert_checkable(lib: Library, answer: Answer) -> None:
    """Every marker resolves, numbered 1..N by first use; every quote is exactly text[start:end]."""
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.text)]
    first_use = list(dict.fromkeys(markers))
    assert first_use == list(range(1, len(answer.citations) + 1))
    assert [c.n for c in answer.citations] == first_use
    for c in answer.citations:
        text = lib.document_text(c.doc_id)
        assert text is not None
        assert c.quote and text[c.start : c.end] == c.quote
