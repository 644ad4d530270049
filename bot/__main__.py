"""`python -m bot` starts the Discord bot (same as `ragbot bot`)."""

import sys

from bot.cli import main

sys.exit(main(["bot"]))
