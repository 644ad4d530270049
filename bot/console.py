"""Answers, hits and sources rendered for a terminal with rich (plain text when piped)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from retrieval.text import without_markers
from retrieval.types import Answer, Hit, SourceInfo

if TYPE_CHECKING:
    from retrieval.evaluate import EvalReport


def render_answer(console: Console, answer: Answer, why: bool = False) -> None:
    """The answer with its markers, then the numbered sources with quote and location."""
    style = "bold" if answer.answerable else "yellow"
    console.print(f"[{style}]{escape(answer.text)}[/{style}]")
    for c in answer.citations:
        console.print(
            f"  [cyan]\\[{c.n}][/cyan] [bold]{escape(without_markers(c.title))}[/bold] — “{escape(without_markers(c.quote))}”\n"
            f"      [dim]{escape(c.source)}, characters {c.start}–{c.end}[/dim]"
        )
    if why and answer.dropped:
        console.print("[dim]Dropped sentences:[/dim]")
        for d in answer.dropped:
            console.print(f"  [dim]- {escape(str(d.get('sentence', '')))} ({escape(str(d.get('reason', '')))})[/dim]")


def render_hits(console: Console, hits: Sequence[Hit]) -> None:
    """One block per hit: rank, score, title, source and the chunk text."""
    if not hits:
        console.print("[yellow]No passages found.[/yellow]")
    for h in hits:
        console.print(f"[cyan]{h.rank}.[/cyan] [bold]{escape(h.title)}[/bold] [dim]({h.score:.4f}) {escape(h.source)}[/dim]")
        console.print(f"   {escape(' '.join(h.text.split())[:400])}")


def render_sources(console: Console, sources: Sequence[SourceInfo]) -> None:
    """A table of the library's documents."""
    if not sources:
        console.print("[yellow]The library is empty: add articles with `ragbot ingest PATH`.[/yellow]")
        return
    table = Table(show_lines=False)
    for name, width in (("doc_id", 28), ("title", 40), ("source", 40)):
        table.add_column(name, max_width=width, no_wrap=True, overflow="ellipsis")
    table.add_column("chunks", justify="right")
    table.add_column("added")
    for s in sources:
        table.add_row(escape(s.doc_id), escape(s.title), escape(s.source), str(s.chunks), s.added_at[:16].replace("T", " "))
    console.print(table)




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
