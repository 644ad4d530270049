"""Text: sentence spans with exact character offsets, word tokens, planted-marker escaping and dates."""

from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace
# and a capital, digit, or opening quote; or at a line break.
_BOUNDARY = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9À-Ý])|\n""")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "no", "gen", "col", "lt",
    "sgt", "capt", "gov", "sen", "rep", "rev", "inc", "ltd", "co", "corp", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "fig", "al", "approx", "u.s",
    "u.k", "e.g", "i.e", "a.m", "p.m", "mt", "ft",
}
# Abbreviations that are also words or names: an abbreviation only before a number.
_NEED_NUMBER = {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no"}
_WORD = re.compile(r"\w+")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial ("J. Smith")."""
    if text[dot] != ".":
        return False
    j = dot
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "."):
        j -= 1
    word = text[j:dot].lower()
    if word in _NEED_NUMBER:
        # "Jan. 5" and "No. 7" continue the sentence; "talks with Dong Jun. Ignore ..." ends it.
        rest = text[dot + 1 : dot + 3].lstrip()
        return bool(rest) and rest[0].isdigit()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def is_abbreviation(word: str) -> bool:
    """Whether a word ending in a full stop ("Dr.", "e.g.", "J.") is an abbreviation or an initial, not a sentence's end."""
    return bool(word) and _is_abbreviation(word, len(word) - 1)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split `text[start:end]` into sentences; returns (start, end) offsets with no outer whitespace."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for m in _BOUNDARY.finditer(text, start, end):
        if m.group() != "\n" and _is_abbreviation(text, m.start()):
            continue
        cut = m.end() if m.group() != "\n" else m.start()
        _add_trimmed(text, cursor, cut, spans)
        cursor = m.end()
    _add_trimmed(text, cursor, end, spans)
    return spans


def _add_trimmed(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a and any(ch.isalnum() for ch in text[a:b]):
        out.append((a, b))


def words(text: str) -> list[str]:
    """Lower-cased word tokens, as the keyword index sees them."""
    return _WORD.findall(text.lower())


# Bracketed text a reader (or the verifier, or a front-end) could take for one of ragbot's `[n]`
# markers: "[3]", "[ 3 ]", "[1, 2]", "[2-4]", "[passage 3]", "[ref. 3]". A superset of what
# answer.verify parses as a marker, so whatever a source writes never reads as a citation.
_PLANTED_MARKER = re.compile(
    r"\[(\s*(?:(?:passages?|refs?\.?|sources?|citations?|notes?)\s*)?\d+(?:\s*(?:,|;|-|–|and|&)\s*\d+)*\s*)\]",
    re.IGNORECASE,
)


def without_markers(text: str) -> str:
    """Source text with every marker-like "[3]" shown as "(3)", so that only ragbot writes `[n]` markers.

    The length and every other character are kept: a citation's quote stays the stored text,
    and only what is shown as answer text or given to a model as a passage is rendered this way.
    """
    return _PLANTED_MARKER.sub(r"(\1)", text)


def iso_date(value: str | None) -> str | None:
    """A publication date as YYYY-MM-DD (None when absent or unreadable), so that --since can compare it."""
    if not value or not value.strip():
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.strip()).date().isoformat()
    except ValueError:
        pass
    try:
        from dateutil import parser as date_parser

        return date_parser.parse(value, fuzzy=False).date().isoformat()
    except (ValueError, OverflowError):
        return None


def chunk_header(title: str) -> str:
    """The header line a chunk is embedded and keyword-indexed with."""
    return title.strip()


def indexed_text(title: str, text: str) -> str:
    """What is embedded for a chunk: its document's title as a header line, then the chunk."""
    header = chunk_header(title)
    return f"{header}\n{text}" if header else text
