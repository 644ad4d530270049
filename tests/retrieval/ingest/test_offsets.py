"""Citation offsets index the file: stored text keeps one character per character of the file.

For every input, `quote == document.text[start:end]` holds for the stored text, and the stored
text has the file's length with each character at the file's index: the only changes are the
documented one-for-one replacements of `loaders.normalize` (docs/offsets.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from retrieval.ingest.loaders import REPLACED
from retrieval.library import Library

FESTIVAL = "The canal festival drew 5,000 visitors to the old harbour on Sunday."
QUESTION = "How many visitors did the canal festival draw to the old harbour?"


def file_text(path: Path) -> str:
    """The file as a user reads it: UTF-8, line ends untouched, a BOM kept as its character."""
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        return f.read()


def check_lines_up(stored: str, raw: str) -> None:
    """Same length, and every character is the file's or its documented replacement."""
    assert len(stored) == len(raw)
    for i, (s, r) in enumerate(zip(stored, raw, strict=True)):
        crlf = raw[i : i + 2] == "\r\n" and s == " "
        assert s == r or crlf or REPLACED.get(r) == s or (0xD800 <= ord(r) <= 0xDFFF and s == "\ufffd"), (i, r, s)


def cited(library: Library, doc_id: str, raw: str) -> None:
    """The answer quotes the festival sentence at offsets that hold it in the stored text and in the file."""
    answer = library.ask(QUESTION, generator="extractive")
    assert answer.answerable, answer
    stored = library.document_text(doc_id) or ""
    check_lines_up(stored, raw)
    mine = [c for c in answer.citations if c.doc_id == doc_id]
    assert mine
    for c in mine:
        assert stored[c.start : c.end] == c.quote
    assert any(FESTIVAL in raw[c.start : c.end] for c in mine), [(c.start, c.end, raw[c.start : c.end]) for c in mine]


CASES = {
    "form-feed": f"Harbour news\n\nThe ferry left at noon.\f{FESTIVAL}\fPage two.\n".encode(),
    "vertical-tab-and-bell": f"Harbour news\n\nThe ferry\x07 left at noon.\v{FESTIVAL}\n".encode(),
    "crlf": f"Harbour news\r\n\r\nThe ferry left at noon.\r\n{FESTIVAL}\r\nThe end.\r\n".encode(),
    "lone-cr": f"Harbour news\r\rThe ferry left at noon.\r{FESTIVAL}\r".encode(),
    "bom": b"\xef\xbb\xbf" + f"Harbour news\n\nThe ferry left at noon. {FESTIVAL}\n".encode(),
    "combining": f"Cafe\u0301 news\n\nZoe\u0308 and Ana\u0303 ran the cafe\u0301. {FESTIVAL}\n".encode(),
    "nul-late": ("Harbour news\n\n" + "The tide came in. " * 600 + "\x00" + FESTIVAL + "\n").encode(),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_offsets_index_the_file(case: str, library: Library, tmp_path: Path) -> None:
    path = tmp_path / f"{case}.txt"
    path.write_bytes(CASES[case])
    report = library.ingest([path])
    assert report.added and not report.problems, report.problems
    cited(library, str(path.resolve()), file_text(path))


def test_offsets_index_a_jsonl_text_with_controls_and_surrogate_escapes(library: Library, tmp_path: Path) -> None:
    text = f"The ferry\u0000 left at noon.\r\nA stray \udcff byte.\f{FESTIVAL}"
    path = tmp_path / "corpus.jsonl"
    path.write_text(json.dumps({"id": "harbour", "title": "Harbour news", "text": text}) + "\n")
    report = library.ingest([path])
    assert report.added == ["harbour"] and not report.problems, report.problems
    cited(library, "harbour", text)
    out = json.dumps(library.ask(QUESTION, generator="extractive").to_json(), ensure_ascii=False)
    out.encode("utf-8")  # a lone surrogate would make the JSON line unwritable


@pytest.mark.skipif(os.uname().sysname == "Darwin", reason="macOS file systems refuse names that are not UTF-8")
def test_a_file_name_with_a_byte_that_is_not_utf8(library: Library, tmp_path: Path) -> None:
    name = os.fsdecode(b"harbour-\xff.txt")  # "harbour-\udcff.txt": a surrogate-escaped byte
    path = tmp_path / name
    path.write_text(f"Harbour news\n\nThe ferry left at noon. {FESTIVAL}\n")
    report = library.ingest([path])
    assert report.added and not report.problems, report.problems
    answer = library.ask(QUESTION, generator="extractive")
    assert answer.answerable
    json.dumps(answer.to_json(), ensure_ascii=False).encode("utf-8")
    (doc_id,) = report.added
    assert library.forget(doc_id)
