"""Files, folders, HTML, Markdown and JSONL corpora -> Documents (with problems reported, not raised)."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from retrieval.text import iso_date
from retrieval.types import Document, Duplicate, IngestProblem

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
SAMPLE_ARTICLE = Path(__file__).parents[1] / "data" / "belousov-beijing.txt"
SAMPLE_DOC_ID = "sample:belousov-beijing"

# The stored text keeps one character for each character of the file (docs/offsets.md), so a
# citation's offsets index the file too: characters that cannot be shown or stored are replaced
# one for one, never dropped. Line breaks stay line breaks; other controls become spaces.
REPLACED: dict[str, str] = {"\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x1c": "\n", "\x1d": "\n", "\x1e": "\n",
                            "\x85": "\n", "\ufeff": " "}
REPLACED |= {chr(c): " " for c in [*range(0x09), *range(0x0E, 0x1C), 0x1F, 0x7F, *range(0x80, 0x85), *range(0x86, 0xA0)]}
_TRANSLATE = str.maketrans(REPLACED)
_SURROGATE = re.compile("[\ud800-\udfff]")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass
class Loaded:
    """One step of a load: a document, or a problem with one input."""

    document: Document | None = None
    problem: IngestProblem | None = None
    duplicate: Duplicate | None = None  # reported along with the document it concerns (or instead of it)


@dataclass(frozen=True)
class RepeatedId(Duplicate):
    """A corpus line whose id an earlier line of the same corpus already used."""

    line: int = 0
    first_line: int = 0

    def __str__(self) -> str:
        where = self.source.rsplit("#", 1)[0]
        outcome = "the later line replaces it" if self.action == "kept" else f"line {self.line} is skipped"
        return f"{where}, line {self.line}: the id {self.doc_id!r} repeats line {self.first_line}; {outcome} (--duplicates {'keep' if self.action == 'kept' else 'skip'})."


def is_url(raw: str) -> bool:
    """Whether an input names a URL (any scheme) rather than a path."""
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", raw.strip()))


def load_sources(
    inputs: list[str], max_bytes: int, fetch: Callable[[str], Loaded] | None = None, duplicates: str = "keep"
) -> Iterator[Loaded]:
    """Load every file, folder (recursively), JSONL corpus or (with `fetch`) web page named.

    `duplicates` ("keep" or "skip") decides which line wins when a corpus repeats an id.
    """
    for raw in inputs:
        if is_url(raw):
            if fetch is None:
                yield Loaded(problem=IngestProblem(raw, "fetching URLs is not supported here; save the page and ingest the file."))
            else:
                yield fetch(raw.strip())
            continue
        path = Path(raw).expanduser()
        if not path.exists():
            yield Loaded(problem=IngestProblem(raw, "no such file or folder."))
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
            files = [p for p in found if p.suffix.lower() in SUPPORTED]
            if not files:
                yield Loaded(problem=IngestProblem(raw, f"the folder holds no {_READ} files."))
            elif len(files) < len(found):
                yield Loaded(problem=IngestProblem(raw, _not_read([p for p in found if p.suffix.lower() not in SUPPORTED])))
            for file in files:
                yield from load_file(file, max_bytes, duplicates=duplicates)
        elif path.exists() and not path.is_file():  # a pipe, device or socket: said as such by load_file
            yield from load_file(path, max_bytes, duplicates=duplicates)
        elif path.suffix.lower() not in SUPPORTED:  # the same rule as for a folder's files
            yield Loaded(problem=IngestProblem(raw, f"ragbot reads only {_READ} files."))
        else:
            yield from load_file(path, max_bytes, duplicates=duplicates)


_READ = ", ".join(sorted(SUPPORTED))


def _not_read(files: list[Path]) -> str:
    """`3 files not read (.csv: 2, no extension: 1); ragbot reads only ...`."""
    from collections import Counter

    counts = Counter(p.suffix.lower() or "no extension" for p in files)
    by_kind = ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{len(files)} {'file' if len(files) == 1 else 'files'} not read ({by_kind}); ragbot reads only {_READ} files."


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def load_file(path: Path, max_bytes: int, doc_id: str | None = None, duplicates: str = "keep") -> Iterator[Loaded]:
    """Load one file by its suffix; unknown suffixes are read as plain text."""
    source = shown_path(path)
    too_big = f"over the {max_bytes:,}-byte limit (RAGBOT_MAX_FILE_BYTES)."
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            yield Loaded(problem=IngestProblem(source, f"{_kind(info.st_mode)}, not a regular file; only regular files are read."))
            return
        if info.st_size > max_bytes:
            yield Loaded(problem=IngestProblem(source, f"the file is {info.st_size:,} bytes, {too_big}"))
            return
        data = read_bounded(path, max_bytes)
    except _NotRegular as exc:
        yield Loaded(problem=IngestProblem(source, f"{exc}, not a regular file; only regular files are read."))
        return
    except OSError as exc:
        yield Loaded(problem=IngestProblem(source, f"could not be read ({exc.strerror or exc})."))
        return
    if data is None:
        yield Loaded(problem=IngestProblem(source, f"the file holds more than {max_bytes:,} bytes, {too_big}"))
        return
    where = shown_path(path.resolve())
    yield from load_bytes(path.name, data, source=where, doc_id=doc_id or where, duplicates=duplicates)


class _NotRegular(Exception):
    """The path turned out not to be a regular file once opened; the message names what it is."""


def _kind(mode: int) -> str:
    """What a non-regular file is, as the start of a sentence."""
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return f"it is {name}"
    return "it is a special file"


def read_bounded(path: Path, max_bytes: int) -> bytes | None:
    """A regular file's bytes, or None when it holds more than `max_bytes` (counted as read, not as reported).

    Opened without blocking and checked again once open, so a file swapped for a pipe or a
    device after the first check cannot hang the read or feed it forever.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _NotRegular(_kind(mode))
        parts: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            piece = os.read(fd, min(left, 1 << 20))
            if not piece:
                break
            parts.append(piece)
            left -= len(piece)
        return None if left <= 0 else b"".join(parts)
    finally:
        os.close(fd)


def shown_path(path: Path) -> str:
    """A path as text that can be stored and printed: a byte of the name that is not UTF-8 is written as `\\xff`."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def load_bytes(name: str, data: bytes, source: str, doc_id: str, duplicates: str = "keep") -> Iterator[Loaded]:
    """Load a file's content given its name (for the suffix), source and document id."""
    suffix = Path(name).suffix.lower()
    if not data.strip():
        yield Loaded(problem=IngestProblem(source, "the file is empty."))
        return
    if b"\x00" in data[:8192]:
        yield Loaded(problem=IngestProblem(source, "the file looks binary, not text."))
        return
    if suffix in HTML_SUFFIXES:
        yield _from_html(data, source, doc_id, fallback_title=Path(name).stem)
        return
    try:
        text = data.decode("utf-8")  # a BOM is kept as a character (normalize makes it a space): offsets stay the file's
    except UnicodeDecodeError as exc:
        yield Loaded(problem=IngestProblem(source, f"the file is not valid UTF-8 text (bad byte at offset {exc.start})."))
        return
    text = normalize(text)
    if suffix in JSONL_SUFFIXES:
        yield from _from_jsonl(text, source, duplicates)
    elif suffix in {".md", ".markdown"}:
        heading = _MD_HEADING.search(text)
        yield _document(doc_id, source, heading.group(1) if heading else _first_line_title(text, name), text)
    else:
        yield _document(doc_id, source, _first_line_title(text, name), text)


def normalize(text: str) -> str:
    """The text with control characters, a BOM and lone surrogates replaced one for one (same length, same offsets).

    A CRLF pair becomes a space and a newline; a lone surrogate (a byte that was not UTF-8,
    escaped) becomes U+FFFD, since it cannot be stored or printed.
    """
    text = text.replace("\r\n", " \n").translate(_TRANSLATE)
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _first_line_title(text: str, name: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 200 else Path(name).stem
    return Path(name).stem


def _document(doc_id: str, source: str, title: str, text: str, published: str | None = None) -> Loaded:
    if not text.strip():
        return Loaded(problem=IngestProblem(source, "no text could be found in it."))
    return Loaded(document=Document(doc_id=doc_id, source=source, title=title.strip()[:300], text=text, published=iso_date(published)))


def from_html(data: bytes, source: str, doc_id: str, fallback_title: str) -> Loaded:
    """An article's main text, title and date from an HTML page (scripts, styles and navigation dropped)."""
    return _from_html(data, source, doc_id, fallback_title)


def _from_html(data: bytes, source: str, doc_id: str, fallback_title: str) -> Loaded:
    import trafilatura
    from trafilatura.settings import Document

    extracted = trafilatura.bare_extraction(data, with_metadata=True, include_comments=False, include_tables=True)
    # A Document, or None when nothing was extracted (a dict only with the deprecated as_dict=True, not asked for).
    if not isinstance(extracted, Document) or not extracted.text or not extracted.text.strip():
        return Loaded(problem=IngestProblem(source, "no article text could be extracted from this HTML."))
    return _document(doc_id, source, extracted.title or fallback_title, normalize(extracted.text), extracted.date or None)


def _from_jsonl(text: str, source: str, duplicates: str = "keep") -> Iterator[Loaded]:
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Loaded(problem=IngestProblem(source, f"not valid JSON ({exc.msg}).", line=number))
            continue
        if not isinstance(row, dict) or not isinstance(row.get("id"), (str, int)) or not isinstance(row.get("text"), str):
            yield Loaded(problem=IngestProblem(source, 'each line needs an "id" and a "text" string.', line=number))
            continue
        doc_id = str(row["id"])
        title, url, published = row.get("title"), row.get("url"), row.get("published")
        title = title if isinstance(title, str) else doc_id
        url = url if isinstance(url, str) else None
        published = published if isinstance(published, str) else None
        loaded = _document(doc_id, url or f"{source}#{doc_id}", title.replace("_", " "), normalize(row["text"]), published)
        if loaded.problem:
            loaded.problem.line = number
        elif doc_id in first_line:
            action = "skipped" if duplicates == "skip" else "kept"
            loaded.duplicate = RepeatedId(doc_id, f"{source}#{doc_id}", doc_id, f"{source}#{doc_id}", 1.0, action, number, first_line[doc_id])
            if action == "skipped":
                loaded.document = None
        else:
            first_line[doc_id] = number
        yield loaded


def estimate_total(inputs: list[str]) -> int | None:
    """How many documents the inputs hold, for a progress bar (None when unknown)."""
    total = 0
    for raw in inputs:
        if is_url(raw):
            total += 1
            continue
        path = Path(raw).expanduser()
        files = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED] if path.is_dir() else [path]
        for f in files:
            if f.suffix.lower() in JSONL_SUFFIXES and f.is_file():
                try:
                    with f.open("rb") as fh:
                        total += sum(1 for line in fh if line.strip())
                except OSError:
                    total += 1
            else:
                total += 1
    return total or None
