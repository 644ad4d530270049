"""ragbot's front-ends: the command line, the REPL and the Discord bot."""
