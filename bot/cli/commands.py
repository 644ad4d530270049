"""The `ragbot` command line: parse, call the engine's facade, print. Nothing more."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from retrieval import Library, Settings


EVAL_FORMAT = """\
QUESTIONS.jsonl holds one JSON object per line:
  {"question": "When was the lighthouse automated?", "answers": ["1987"],
   "gold_passage_id": "lighthouse-1", "is_impossible": false}
  question         the question (required)
  answers          accepted answers: a right answer contains one of them (optional)
  gold_passage_id  the doc_id of the document that answers it (optional; none: retrieval is not measured)
  is_impossible    true when the library cannot answer it: the right reply is a refusal (default false)
A doc_id is what `ragbot sources` lists: the "id" of a JSONL corpus line, the absolute path of an
ingested file, or the URL of a web page. data/squad-v1.1-dev/questions.jsonl is an example.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ragbot", description="Answers questions about articles with citations that check out."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_collection(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--collection", help="library (collection) name; default RAGBOT_COLLECTION")
        return p

    p = with_collection(sub.add_parser("ingest", help="add files, folders, JSONL corpora or web pages (URLs) to the library"))
    p.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument(
        "--duplicates",
        choices=("keep", "skip"),
        help="what to do with a near-duplicate of a document already in the library (both report it); default RAGBOT_DUPLICATES (keep)",
    )

    for name, noun in (("ask", "QUESTION"), ("search", "QUERY")):
        p = with_collection(sub.add_parser(name, help=f"{'answer a question with citations' if name == 'ask' else 'show the best passages'}; no {noun}: one per line from standard input"))
        p.add_argument("text", nargs="?", metavar=noun)
        p.add_argument("--json", action="store_true", help="print one JSON object per line")
        p.add_argument("--k", type=int, help="passages to retrieve")
        p.add_argument("--source", help="only documents whose source contains this text")
        p.add_argument("--since", help="only documents published on or after this date (YYYY-MM-DD)")
        if name == "ask":
            p.add_argument("--generator", help="extractive (default) or a configured language model backend")

    p = with_collection(sub.add_parser("sources", help="list the documents in the library"))
    p.add_argument("--json", action="store_true")
    p = with_collection(sub.add_parser("forget", help="remove a document from the library"))
    p.add_argument("doc_id", metavar="DOC_ID", help="its id as `ragbot sources` shows it, any unique start of it, or the path it was ingested from")
    with_collection(sub.add_parser("repl", help="ask questions interactively (bundled sample article if the library is empty)"))
    p = sub.add_parser("bot", help="run the Discord bot (needs DISCORD_TOKEN)")
    p.add_argument("--sync", action="store_true", help="re-sync the slash commands with Discord (done anyway when they changed)")
    p = with_collection(sub.add_parser(
        "eval", help="measure retrieval, answers, citations and abstention on a QA file",
        description="Measure retrieval, answers, citations and abstention on a file of questions.",
        epilog=EVAL_FORMAT, formatter_class=argparse.RawDescriptionHelpFormatter,
    ))
    p.add_argument("questions", metavar="QUESTIONS.jsonl")
    p.add_argument("--corpus", help="ingest this JSONL corpus first (into a throwaway data dir unless --keep)")
    p.add_argument("--keep", action="store_true", help="ingest --corpus into the configured data dir instead")
    p.add_argument("--k", type=int, default=5, help="passages per answer (retrieval figures use 10)")
    p.add_argument("--limit", type=int, help="a seeded random sample of this many questions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="draw answered vs abstained confidence distributions (matplotlib)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ragbot` console script."""
    args = build_parser().parse_args(argv)
    debug = os.environ.get("RAGBOT_DEBUG", "").lower() in ("1", "true", "yes")
    from retrieval import RagbotError

    try:
        from retrieval import Settings

        settings = Settings()
        debug = debug or settings.debug
        return int(COMMANDS[args.command](args, settings) or 0)
    except RagbotError as exc:
        print(f"ragbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ragbot: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if debug:
            raise
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            field = str(first["loc"][0]).upper() if first.get("loc") else "a setting"
            print(f"ragbot: the setting RAGBOT_{field} is invalid: {first['msg']}.", file=sys.stderr)
            return 1
        print(f"ragbot: unexpected error: {type(exc).__name__}: {exc} (set RAGBOT_DEBUG=1 for the traceback).", file=sys.stderr)
        return 2


def _library(settings: Settings) -> Library:
    from retrieval import Library

    return Library(settings, notify=_notify)


def _notify(message: str) -> None:
    """What the engine says while it waits (for another writer, for the Chroma server): one line on standard error."""
    print(f"ragbot: {message}", file=sys.stderr, flush=True)


def _filters(args: argparse.Namespace) -> Any:
    from retrieval import Filters

    return Filters(source=getattr(args, "source", None), since=getattr(args, "since", None))


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    lib = _library(settings)
    total = lib.estimate_ingest(args.inputs)
    with _progress(total) as progress:
        report = lib.ingest(args.inputs, collection=args.collection, progress=progress, duplicates=args.duplicates)
    for problem in report.problems:
        print(f"ragbot: skipped {problem}", file=sys.stderr)
    for duplicate in report.duplicates:
        print(f"ragbot: {duplicate}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        from bot.cli.console import plural

        skipped = sum(d.action == "skipped" for d in report.duplicates)
        print(
            f"Added {plural(len(report.added), 'document')}, replaced {len(report.replaced)}, unchanged {len(report.unchanged)} "
            f"({plural(report.chunks, 'chunk')}) in {report.seconds:.1f} s."
            + (f" Skipped {plural(skipped, 'near-duplicate')}." if skipped else "")
        )
    ingested = len(report.added) + len(report.replaced) + len(report.unchanged) + len(report.duplicates)
    return 1 if report.problems and not ingested else 0


class _progress:
    """A rich progress bar with rate and ETA on a terminal; silent when standard error is piped."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[rate]} docs/s"), TimeRemainingColumn(), console=Console(stderr=True), transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("ingest", total=self.total, rate="-")

        def update(done: int, _total: int | None) -> None:
            t = self.bar.tasks[0]
            rate = f"{done / t.elapsed:.0f}" if t.elapsed else "-"
            self.bar.update(task, completed=done, rate=rate)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _each(args: argparse.Namespace, handle: Any) -> int:
    """Run one question, or one per line of standard input (batch mode); 1 if every one failed."""
    from retrieval import RagbotError, check_k

    if args.k is not None:
        check_k(args.k)  # once, before any question: the same range as RAGBOT_K and the REPL's :k
    if args.text is None and sys.stdin.isatty():
        # Without this a terminal just waits, and the user cannot tell why.
        print(
            f"ragbot: reading one {'question' if args.command == 'ask' else 'query'} per line from standard input "
            "(Ctrl-D to finish); give it as an argument instead, or use `ragbot repl`.",
            file=sys.stderr,
        )
    items = [args.text] if args.text is not None else (line.rstrip("\n") for line in sys.stdin)
    ok = failed = 0
    for item in items:
        try:
            handle(item)
            ok += 1
        except RagbotError as exc:
            failed += 1
            if args.json and args.text is None:
                print(json.dumps({"question": item, "error": str(exc)}), flush=True)
            else:
                print(f"ragbot: {exc}", file=sys.stderr)
    return 1 if failed and not ok else 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    lib = _library(settings)
    if not args.generator and lib.generator_note:
        print(f"ragbot: {lib.generator_note}", file=sys.stderr)
    console = None if args.json else _console()  # rich costs start-up time that --json does not need

    def handle(question: str) -> None:
        answer = lib.ask(question, k=args.k, collection=args.collection, filters=_filters(args), generator=args.generator)
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            from bot.cli.console import render_answer

            assert console is not None  # made whenever --json is not given
            render_answer(console, answer, lambda doc_id: lib.document_text(doc_id, args.collection))

    return _each(args, handle)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    lib = _library(settings)
    console = None if args.json else _console()  # rich costs start-up time that --json does not need

    def handle(query: str) -> None:
        hits = lib.search(query, k=args.k, collection=args.collection, filters=_filters(args))
        if args.json:
            print(json.dumps({"query": query, "hits": [h.to_json() for h in hits]}, ensure_ascii=False), flush=True)
        else:
            from bot.cli.console import render_hits

            assert console is not None  # made whenever --json is not given
            render_hits(console, hits)

    return _each(args, handle)


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    sources = _library(settings).sources(args.collection)
    if args.json:
        print(json.dumps([s.to_json() for s in sources], ensure_ascii=False))
    else:
        from bot.cli.console import library_location, render_sources

        render_sources(_console(), sources, library_location(settings))
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    lib = _library(settings)
    doc_id = lib.resolve_doc_id(args.doc_id, args.collection)
    lib.forget(doc_id, args.collection)
    print(f"Forgot {doc_id}.")
    return 0


def cmd_repl(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.repl import run

    return run(_library(settings), args.collection)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from bot.cli.console import render_eval
    from retrieval import EvalPlan, Evaluation, plot_eval

    plan = EvalPlan(Path(args.questions), args.limit, args.seed, args.k, args.collection, args.corpus, args.keep)
    with Evaluation(settings, plan, notify=_notify) as evaluation:
        if plan.corpus:
            with _progress(None) as progress:
                report = evaluation.ingest(progress)
            for problem in report.problems if report else []:
                print(f"ragbot: skipped {problem}", file=sys.stderr)
        with _progress(len(evaluation.items)) as progress:
            result = evaluation.run(progress)
    if args.plot:
        plot_eval(result, Path(args.plot))
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        render_eval(_console(), result, args.questions)
    return 0


def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    from bot.discord.client import main as bot_main
    from bot.discord.settings import DiscordSettings

    return bot_main(DiscordSettings(), sync=args.sync)


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=not sys.stdout.isatty())


COMMANDS = {
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "search": cmd_search,
    "sources": cmd_sources,
    "forget": cmd_forget,
    "repl": cmd_repl,
    "bot": cmd_bot,
    "eval": cmd_eval,
}

if __name__ == "__main__":
    sys.exit(main())
