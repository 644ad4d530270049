"""The interactive REPL: prompt_toolkit for input and history, rich for answers."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from bot.cli.console import library_location, plural, render_answer, render_sources, render_why
from retrieval import SAMPLE_ARTICLE, Answer, Library, RagbotError, check_k

HELP = """Ask a question about the articles, or:
  :sources   list the documents in the library
  :k N       retrieve N passages per question (now {k})
  :why       why the last answer is what it is (what came closest, when it was a refusal)
  :help      this help
  :quit      leave (also quit, exit, Ctrl-D and Ctrl-C)"""

QUIT = {":quit", ":q", ":exit", "quit", "exit"}


def ensure_sample(lib: Library, collection: str | None, console: Console) -> None:
    """Ingest the bundled sample article when the library is empty."""
    if lib.sources(collection):
        return
    console.print(f"[dim]The library is empty: adding the bundled sample article ({SAMPLE_ARTICLE.name}).[/dim]")
    report = lib.ingest_sample(collection)
    for problem in report.problems:
        raise RagbotError(f"Could not add the sample article: {problem}")


def _reader(lib: Library) -> Any:
    """A line reader: prompt_toolkit with history on a terminal, plain input() when piped."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        lib.settings.data_dir.mkdir(parents=True, exist_ok=True)
        session: PromptSession[str] = PromptSession(history=FileHistory(str(lib.settings.data_dir / "repl-history")))
        return lambda: session.prompt("ragbot> ")

    def piped() -> str:
        line = input("ragbot> ")
        print(line)  # piped input is not echoed: show it, so that the output reads as a session
        return line

    return piped


def ask_streaming(lib: Library, console: Console, question: str, k: int, collection: str | None) -> Answer:
    """Ask; with a language model, show its draft as it arrives, then replace it by the verified answer."""
    if lib.generator == "extractive":
        return lib.ask(question, k=k, collection=collection)
    draft: list[str] = []

    def view() -> Text:
        text = Text("draft, not yet checked: ", style="dim")
        text.append("".join(draft) or "…", style="dim italic")
        return text

    # transient: the unchecked draft disappears when the verified answer is printed.
    with Live(view(), console=console, transient=True, refresh_per_second=12) as live:

        def on_token(token: str) -> None:
            draft.append(token)
            live.update(view())

        return lib.ask(question, k=k, collection=collection, on_token=on_token)


def run(lib: Library, collection: str | None = None) -> int:
    """Run the REPL until :quit, Ctrl-D or Ctrl-C."""
    console = Console(highlight=False)
    ensure_sample(lib, collection, console)
    with console.status("Loading the model…", spinner="dots"):
        lib.warm(collection)
    if lib.generator_note:
        console.print(f"[yellow]{lib.generator_note}[/yellow]")
    k = lib.settings.k
    console.print(f"[bold]ragbot[/bold] — {plural(len(lib.sources(collection)), 'document')}. Type :help for commands.")
    read = _reader(lib)
    last = None
    while True:
        try:
            line = read().strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return 0
        if not line:
            continue
        if line.lower() in QUIT:
            return 0
        if line.startswith(":"):
            cmd, _, rest = line.partition(" ")
            if cmd == ":help":
                console.print(HELP.format(k=k))
            elif cmd == ":sources":
                try:
                    render_sources(console, lib.sources(collection), library_location(lib.settings))
                except RagbotError as exc:  # e.g. the Chroma server is away: say so and keep going
                    console.print(f"[red]{exc}[/red]")
            elif cmd == ":k":
                try:
                    k = check_k(rest)  # the range of --k and RAGBOT_K
                    console.print(f"Retrieving {k} passages per question.")
                except RagbotError as exc:
                    console.print(f"[yellow]{exc} Usage: :k N.[/yellow]")
            elif cmd == ":why":
                if last is None:
                    console.print("[yellow]Ask a question first.[/yellow]")
                else:
                    render_why(console, last, lib.settings.llm_gate)
                    console.print()
            else:
                console.print(f"[yellow]Unknown command {cmd}; type :help.[/yellow]")
            continue
        try:
            last = ask_streaming(lib, console, line, k, collection)
            # The sources' texts are read while rendering: the Chroma server may go away in between.
            render_answer(console, last, lambda doc_id: lib.document_text(doc_id, collection))
        except RagbotError as exc:
            console.print(f"[red]{exc}[/red]")
            continue
        console.print()  # a blank line between one answer and the next prompt
