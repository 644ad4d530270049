"""`python -m bot.cli ARGS` is `ragbot ARGS`."""

import sys

from bot.cli import main

sys.exit(main())
