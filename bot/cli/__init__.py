"""The terminal front ends: the `ragbot` command line, its console rendering and the REPL."""

from bot.cli.commands import main

__all__ = ["main"]
