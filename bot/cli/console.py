"""Answers, hits and sources rendered for a terminal with rich (plain text when piped)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from retrieval import Answer, Citation, Hit, SourceInfo, is_url, without_markers

if TYPE_CHECKING:
    from retrieval import EvalReport, Settings

TITLE_CHARS = 48
EMPTY_HINT = "add articles with `ragbot ingest PATH_OR_URL` (files, folders, JSONL corpora or web pages)."


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`1 chunk`, `2 chunks`."""
    return f"{n:,} {noun if n == 1 else many or noun + 's'}"


def short_title(title: str, limit: int = TITLE_CHARS) -> str:
    """A title cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:—-")
    return (cut or title[: limit - 1]) + "…"


def location(source: str) -> str:
    """Where a source can be opened: a URL as is, a path relative to the current folder or to `~`."""
    if is_url(source) or not source.startswith(("/", "~")):
        return source
    path, hash_, anchor = source.partition("#")  # a JSONL corpus line: corpus.jsonl#id
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        shown = path
    if shown.startswith(".." + os.sep) or shown == "..":
        home = str(Path.home())
        shown = "~" + path[len(home) :] if path == home or path.startswith(home + os.sep) else path
    return shown + hash_ + anchor


def library_location(settings: Settings) -> str:
    """Where the library lives: the Chroma server, or the data folder."""
    if settings.chroma_url:
        return f"the Chroma server at {settings.chroma_url}"
    return str(settings.data_dir.expanduser().resolve())


def _citation_grid() -> Table:
    # A grid keeps wrapped lines under their own column: the marker stays alone on the left.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(ratio=1)
    return grid


def line_of(text: str | None, source: str, start: int) -> int | None:
    """The 1-based line of a character offset, when the source is a text file whose lines the stored text keeps."""
    from retrieval import HTML_SUFFIXES

    if text is None or is_url(source) or "#" in source or Path(source).suffix.lower() in HTML_SUFFIXES:
        return None  # a web page's or corpus line's text has no lines a reader could open at
    return text.count("\n", 0, start) + 1


def render_answer(console: Console, answer: Answer, text_of: Callable[[str], str | None] | None = None) -> None:
    """The answer with its markers, then its sources: each document's short title once, a line per citation.

    `text_of` gives a document's stored text, so that a citation can point at a line of its file.
    """
    style = "bold" if answer.answerable else "yellow"
    console.print(Text(answer.text, style=style))
    if not answer.citations:
        return
    shown = " ".join(answer.text.split())
    by_doc: dict[str, list[Citation]] = {}
    for c in answer.citations:
        by_doc.setdefault(c.doc_id, []).append(c)
    for doc_id, cited in by_doc.items():
        text = text_of(doc_id) if text_of else None
        console.print(Text(short_title(without_markers(cited[0].title)), style="bold"), no_wrap=True, overflow="ellipsis")
        grid = _citation_grid()
        for c in cited:
            line = line_of(text, c.source, c.start)
            cell = Text(location(c.source) + (f":{line}" if line else f", characters {c.start}–{c.end}"), style="dim")
            quote = " ".join(without_markers(c.quote).split())  # a source's own "[3]" is never one of our markers
            if quote not in shown:  # a generated sentence: show the passage it rests on
                cell.append(f"\n“{quote}”", style="")
            grid.add_row(Text(f"  [{c.n}]", style="cyan"), cell)
        console.print(grid)


def render_why(console: Console, answer: Answer, gate: float | None = None) -> None:
    """Why the last answer is what it is: for a refusal, what came closest and why it was not enough."""
    if answer.answerable:
        if not answer.dropped:
            console.print("Nothing was left out of the last answer.")
        else:
            _dropped(console, answer)
        return
    if not answer.hits:
        console.print("Nothing in the library came close to the question: no passage shares its words or meaning.")
        return
    top = answer.hits[0]
    from retrieval import MODEL_LEANED_NO, MODEL_SAID_NO

    reasons = [str(d.get("reason", "")) for d in answer.dropped]
    if MODEL_SAID_NO in reasons:
        console.print("The language model read the closest passages and said they do not answer the question.")
    elif any(r.startswith(MODEL_LEANED_NO) for r in reasons) and answer.refusal is not None:
        console.print(
            f"The language model read the closest passages and leaned towards saying they do not answer the question "
            f"(a probability of {answer.refusal:.2f} of starting that reply; RAGBOT_LLM_REFUSE_AT sets where it stops)."
        )
    elif answer.confidence is not None:
        from retrieval import ANSWER_THRESHOLD

        # A language model is asked from the (lower) gate on; the extractive composer answers from its own threshold.
        needed = gate if gate is not None and answer.generator != "extractive" else ANSWER_THRESHOLD
        console.print(
            f"The best evidence scored {answer.confidence:.2f}, below the {needed:.2f} needed to answer "
            "(the score adds how well the best sentence matches the question, how many of the question's "
            "words one passage holds, and how close the passage's meaning is)."
        )
    else:
        console.print("No sentence of the answer could be checked against the passages, so none was kept.")
    grid = _citation_grid()
    excerpt = " ".join(top.text.split())
    excerpt = excerpt if len(excerpt) <= 240 else excerpt[:239].rsplit(" ", 1)[0] + "…"
    cell = Text()
    cell.append(short_title(top.title), style="bold")
    cell.append(f" — {location(top.source)}\n", style="dim")
    cell.append(f"“{excerpt}”")
    console.print("The closest passage:")
    grid.add_row(Text("1.", style="cyan"), cell)
    console.print(grid)
    _dropped(console, answer)


def _dropped(console: Console, answer: Answer) -> None:
    if answer.dropped:
        console.print("[dim]Dropped sentences:[/dim]")
        for d in answer.dropped:
            console.print(f"  [dim]- {escape(str(d.get('sentence', '')))} ({escape(str(d.get('reason', '')))})[/dim]")


def render_hits(console: Console, hits: Sequence[Hit]) -> None:
    """One block per hit: rank, short title, location, its similarity to the query, and the chunk text."""
    if not hits:
        console.print("[yellow]No passages found.[/yellow]")
    grid = _citation_grid()
    for h in hits:
        cell = Text()
        cell.append(short_title(h.title), style="bold")
        cell.append(f" — {location(h.source)}", style="dim")
        if h.dense is not None:  # the cosine is meaningful to a reader; the fused score is only an order
            cell.append(f" (similarity {h.dense:.2f})", style="dim")
        text = " ".join(h.text.split())
        cell.append("\n" + (text if len(text) <= 400 else text[:399].rsplit(" ", 1)[0] + "…"))
        grid.add_row(Text(f"{h.rank}.", style="cyan"), cell)
    if hits:
        console.print(grid)


def render_sources(console: Console, sources: Sequence[SourceInfo], where: str) -> None:
    """The library's documents with whole ids: aligned lines on a terminal, tab-separated text when piped."""
    if not console.is_terminal:
        # For scripts: one document per line, ids whole, nothing to parse around; the where goes to stderr.
        print(f"ragbot: {plural(len(sources), 'document')} in {where}.", file=sys.stderr)
        print("doc_id\tchunks\tadded\ttitle", file=console.file)
        for s in sources:
            print(f"{s.doc_id}\t{s.chunks}\t{_added(s)}\t{' '.join(s.title.split())}", file=console.file)
        return
    if not sources:
        console.print(f"[yellow]The library in {escape(where)} is empty: {escape(EMPTY_HINT)}[/yellow]")
        return
    console.print(f"{plural(len(sources), 'document')} in {escape(where)}:")
    counts = [plural(s.chunks, "chunk") for s in sources]
    wide = max(map(len, counts))
    room = max(12, console.width - 2 - wide - 2 - len("added 2026-01-01 00:00") - 2)
    for s, count in zip(sources, counts, strict=True):
        # The id gets a line of its own, never cut, so that it can be copied for `ragbot forget`.
        console.print(Text(s.doc_id, style="bold cyan"), soft_wrap=True)
        title = short_title(s.title, room)
        console.print(Text(f"  {title:<{room}}  {count:>{wide}}  added {_added(s)}"), no_wrap=True, overflow="ellipsis")


def _added(s: SourceInfo) -> str:
    return s.added_at[:16].replace("T", " ")


def render_eval(console: Console, report: EvalReport, name: str) -> None:
    """The `ragbot eval` table."""

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:.3f}"

    table = Table(title=f"ragbot eval: {escape(name)}", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("questions (answerable / impossible)", f"{report.questions} ({report.answerable_questions} / {report.impossible_questions})"),
        ("retrieval hit@1", pct(report.hit_at_1)),
        ("retrieval hit@5", pct(report.hit_at_5)),
        ("retrieval hit@10", pct(report.hit_at_10)),
        ("retrieval MRR@10", pct(report.mrr_at_10)),
        ("answer containment", pct(report.answer_containment)),
        ("citation precision", pct(report.citation_precision)),
        ("abstention accuracy (impossible)", pct(report.abstention_accuracy)),
        ("refusal rate (answerable)", pct(report.refusal_rate)),
        ("median sentences per answer", "—" if report.median_sentences is None else f"{report.median_sentences:g}"),
        ("median s / question", f"{report.median_seconds:.3f}"),
        ("p95 s / question", f"{report.p95_seconds:.3f}"),
    ]
    for measure, value in rows:
        table.add_row(measure, value)
    console.print(table)
