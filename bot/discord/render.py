"""Answers and library listings -> Discord messages and embeds, within Discord's limits and never pinging anyone."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import discord

from retrieval import Answer, Citation, SourceInfo, is_abbreviation, without_markers

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
MESSAGE_CHARS = 2000
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_TOTAL = 6000

# At most this many sources per message, so every source line keeps a readable share of the embed.
SOURCES_PER_PART = 10
TITLE_CHARS = 100
LINK_CHARS = 300
SOURCES_PER_PAGE = 10

# Every send passes this too (besides the bot-wide default): quotes may contain @everyone or <@id>.
NO_PINGS = discord.AllowedMentions.none()

# A quote the answer text does not already show is cut to this many characters.
QUOTE_CHARS = 150
UPLOAD_PREFIX = "discord-attachment:"
MORE_IN_LIST = "The list may go on: these are the first items found. Ask about the rest by name to see more."

DRAFT_HEADER = "✏️ *Draft — the sources are still being checked…*\n"

_MARKER = re.compile(r"\[(\d+)\]")
_MARKER_WORD = re.compile(r"^(?:\[\d+\])+[.,;:!?]*$")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]*_]*$")
_TOKEN = re.compile(r"\S+\s*")


@dataclass(frozen=True)
class Reply:
    """One Discord message: text content and an optional embed."""

    content: str
    embed: discord.Embed | None = None


def escape(text: str) -> str:
    """Markdown escaped so article text is shown as written, not as formatting."""
    return discord.utils.escape_markdown(text)


def markers(text: str) -> list[int]:
    """The distinct `[n]` markers in a text, in order of first use."""
    seen: dict[int, None] = {}
    for m in _MARKER.finditer(text):
        seen.setdefault(int(m.group(1)), None)
    return list(seen)


def render_answer(answer: Answer) -> list[Reply]:
    """An answer as one or more messages; each carries a sources embed for exactly the markers it contains.

    The answer's text is shown once, in the message; the embed names the documents it cites and
    quotes (shortly) only what the text does not already say word for word.
    """
    text = answer.text.strip()
    if not answer.answerable or not answer.citations:
        return [Reply(content=_fit(escape(text), MESSAGE_CHARS))]
    by_n = {c.n: c for c in answer.citations}
    parts = split_text(text, MESSAGE_CHARS, known=set(by_n))
    replies = []
    for i, part in enumerate(parts, start=1):
        cited = [by_n[n] for n in markers(part) if n in by_n]
        title = "Sources" if len(parts) == 1 else f"Sources ({i}/{len(parts)})"
        embed = sources_embed(cited, title, shown=part) if cited else None
        if embed is not None and answer.more and i == len(parts):
            embed.set_footer(text=MORE_IN_LIST)
        replies.append(Reply(content=escape(part), embed=embed))
    return replies


def split_text(
    text: str,
    limit: int = MESSAGE_CHARS,
    known: set[int] | None = None,
    measure: Callable[[str], int] = lambda s: len(escape(s)),
    max_sources: int = SOURCES_PER_PART,
) -> list[str]:
    """Split at sentence boundaries into parts of at most `limit` (as measured) and `max_sources` markers.

    A marker stays with the sentence it follows; a sentence too long for one part is split
    between words, and only a word too long for a part is cut.
    """
    known = known if known is not None else set(markers(text))
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, limit, known, measure, max_sources):
        candidate = current + piece
        if current and (measure(candidate.rstrip()) > limit or _count(candidate, known) > max_sources):
            parts.append(current.rstrip())
            current = piece
        else:
            current = candidate
    if current.strip():
        parts.append(current.rstrip())
    return parts


def _count(text: str, known: set[int]) -> int:
    return sum(1 for n in markers(text) if n in known)


def _fits(text: str, limit: int, known: set[int], measure: Callable[[str], int], max_sources: int) -> bool:
    return measure(text.rstrip()) <= limit and _count(text, known) <= max_sources


def _pieces(text: str, limit: int, known: set[int], measure: Callable[[str], int], max_sources: int) -> list[str]:
    """Sentences (with trailing whitespace) small enough to pack; oversized ones broken into words, then characters."""
    out: list[str] = []
    for sentence in sentences(text):
        if _fits(sentence, limit, known, measure, max_sources):
            out.append(sentence)
            continue
        for word in _TOKEN.findall(sentence):
            if _fits(word, limit, known, measure, max_sources):
                out.append(word)
            else:
                out.extend(_cut(word, limit, measure))
    return out


def _cut(word: str, limit: int, measure: Callable[[str], int]) -> list[str]:
    """A huge word in slices that fit, never slicing through a marker."""
    atoms = [a for a in re.split(r"(\[\d+\])", word) if a]
    chars: list[str] = []
    for atom in atoms:
        chars.extend([atom] if _MARKER.fullmatch(atom) else list(atom))
    pieces: list[str] = []
    current = ""
    for ch in chars:
        if current and measure(current + ch) > limit:
            pieces.append(current)
            current = ""
        current += ch
    if current:
        pieces.append(current)
    return pieces


def sentences(text: str) -> list[str]:
    """Sentences with their trailing whitespace; `[n]` markers after a full stop belong to the sentence before."""
    tokens = _TOKEN.findall(text.strip())
    out: list[str] = []
    current = ""
    pending_end = False
    for i, token in enumerate(tokens):
        word = token.rstrip()
        current += token
        if _MARKER_WORD.match(word):
            ends = pending_end or bool(_SENTENCE_END.search(word))
        else:
            bare = _MARKER.sub("", word)
            ends = bool(_SENTENCE_END.search(bare)) and not is_abbreviation(bare)
        nxt = tokens[i + 1].rstrip() if i + 1 < len(tokens) else ""
        pending_end = ends
        if "\n" in token or (ends and not _MARKER_WORD.match(nxt)):
            out.append(current)
            current = ""
            pending_end = False
    if current:
        out.append(current)
    return out


def sources_embed(citations: Sequence[Citation], title: str = "Sources", shown: str = "") -> discord.Embed:
    """One line per cited document: its markers, its title (linked to the page or message it came from) and
    where it is from; then a short quote for each citation whose words `shown` (the answer text) does not hold."""
    description = source_lines(citations, EMBED_DESCRIPTION, shown)
    return discord.Embed(title=title[:EMBED_TITLE], description=description, colour=discord.Colour.blurple())


def source_lines(citations: Sequence[Citation], budget: int, shown: str = "") -> str:
    """The citations grouped by document in lines that fit in `budget` characters: quotes shorten first, then links go."""
    visible = _flat(_MARKER.sub(" ", shown))
    docs: dict[str, list[Citation]] = {}
    for c in citations:
        docs.setdefault(c.doc_id, []).append(c)
    for with_links, title_chars, quote_chars in (
        (True, TITLE_CHARS, QUOTE_CHARS), (True, TITLE_CHARS, 60), (False, TITLE_CHARS, 60), (False, 40, 0), (False, 0, 0)
    ):
        lines = []
        for group in docs.values():
            lines.append(_head(group, with_links, title_chars))
            for c in group:
                if quote_chars and _flat(c.quote) not in visible:
                    lines.append(f'> **[{c.n}]** "{_quote(c.quote, quote_chars)}"')
        text = "\n".join(lines)
        if len(text) <= budget:
            return text
    return _fit(text, budget)


def _head(group: Sequence[Citation], with_links: bool, title_chars: int) -> str:
    """`**[1]** **[2]** [Title](link) · file.txt`: a document and the markers that cite it."""
    first = group[0]
    numbers = " ".join(f"**[{c.n}]**" for c in group)
    title = escape(_shorten(_flat(first.title) or first.doc_id, title_chars)) if title_chars else ""
    title = title.replace("[", "\\[").replace("]", "\\]")
    url = web_url(first.source)
    if url and title and len(url) <= LINK_CHARS:
        return f"{numbers} [{title}]({url})" if with_links else f"{numbers} {title}"
    origin = source_name(first.source)
    where = f" · {escape(_shorten(origin, TITLE_CHARS))}" if title_chars and origin and origin != _flat(first.title) else ""
    return f"{numbers} {title}{where}".rstrip()


def source_name(source: str) -> str:
    """A short name for where a document came from: a file's name, an upload's file name."""
    if source.startswith(UPLOAD_PREFIX):
        return source[len(UPLOAD_PREFIX) :]
    if web_url(source):
        return source
    return source.replace("\\", "/").rsplit("/", 1)[-1]


def _share(needs: list[int], room: int) -> list[int]:
    """Split `room` characters between quotes: short ones get all they need, long ones share the rest evenly."""
    shares = [0] * len(needs)
    left = sorted(range(len(needs)), key=lambda i: needs[i])
    while left:
        even = room // len(left)
        i = left[0]
        if needs[i] <= even:
            shares[i] = needs[i]
            room -= needs[i]
            left.pop(0)
        else:
            for j in left:
                shares[j] = even
            break
    return shares


def _quote(quote: str, chars: int) -> str:
    """The quote, markdown-escaped, at most `chars` characters (cut with an ellipsis)."""
    flat = _flat(quote)
    keep = len(flat)
    while keep > 0:
        cut = escape(flat[:keep]) if keep == len(flat) else escape(flat[:keep].rstrip()).rstrip("\\") + "…"
        if len(cut) <= chars:
            return cut
        keep -= max(1, len(cut) - chars)
    return ""


def _flat(text: str) -> str:
    return without_markers(" ".join(text.split()))  # a source's own "[3]" must not look like a marker


def _shorten(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def web_url(source: str) -> str | None:
    """The source when it is an http(s) address safe to use as a Markdown link target, else None."""
    parsed = urlparse(source)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(ch.isspace() for ch in source):
        return None
    return source.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def render_waiting(place: int) -> str:
    """What a question waiting for a free slot shows: its place in line."""
    return f"⏳ *Waiting for my turn: you are number {place} in line…*"


def render_draft(text: str) -> str:
    """A streaming draft, marked as unverified and cut to one message."""
    return DRAFT_HEADER + _fit(escape(text.strip()) or "…", MESSAGE_CHARS - len(DRAFT_HEADER))


def sources_pages(sources: Sequence[SourceInfo], per_page: int = SOURCES_PER_PAGE) -> list[discord.Embed]:
    """The library's documents as embeds of `per_page` lines each (title, source, date added)."""
    if not sources:
        return [discord.Embed(title="Library", description="No documents yet: an admin can add some with `/ingest`.")]
    pages = []
    chunks = [sources[i : i + per_page] for i in range(0, len(sources), per_page)]
    for number, chunk in enumerate(chunks, start=1):
        budget = (EMBED_DESCRIPTION - len(chunk)) // len(chunk)
        lines = [_fit(_source_line(s), budget) for s in chunk]
        embed = discord.Embed(
            title=f"Library — {len(sources)} document{'s' if len(sources) != 1 else ''}",
            description="\n".join(lines),
            colour=discord.Colour.blurple(),
        )
        embed.set_footer(text=f"Page {number}/{len(chunks)}")
        pages.append(embed)
    return pages


def _source_line(s: SourceInfo) -> str:
    title = escape(_shorten(_flat(s.title) or s.doc_id, TITLE_CHARS))
    url = web_url(s.source)
    where = url if url and len(url) <= LINK_CHARS else escape(_shorten(s.source, TITLE_CHARS))
    added = s.added_at[:10]
    return f"**{title}** — {where} · added {added} · {s.chunks} chunk{'s' if s.chunks != 1 else ''}"
