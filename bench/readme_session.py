"""The README's "A session" block: what `make run` prints for a few questions about the sample article.

    python bench/readme_session.py           print the session
    python bench/readme_session.py --write   put it into README.md between the session markers

The REPL runs as `make run` runs it (`ragbot repl` from the checkout, default settings, a fresh
library that the bundled sample article fills), with the questions piped in and the terminal 80
columns wide. tests/bot/cli/test_readme.py compares README.md with this output, so it cannot drift.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MODELS = Path(os.environ.get("RAGBOT_TEST_MODELS", ROOT / ".ragbot-test-models"))
QUESTIONS = ("Who is Russia's defense minister?", "What exercises were mentioned?", "What is the capital of Peru?", ":why", "quit")
BEGIN = "<!-- session: written by `python bench/readme_session.py --write`, checked by tests/bot/cli/test_readme.py -->"
END = "<!-- /session -->"
WIDTH = 80

# `ragbot repl` (the console script `make run` starts), except that a `.env` in the checkout is
# not read: the session shows the default configuration, not a developer's own settings.
_REPL = (
    "import sys; from retrieval.settings import Settings; Settings.model_config['env_file'] = None; "
    "from bot.cli.commands import main; sys.exit(main(['repl']))"
)


def session(models: Path = MODELS) -> str:
    """The REPL's output for QUESTIONS, run over a fresh library, as the README shows it."""
    with tempfile.TemporaryDirectory(prefix="ragbot-session-") as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_") and k != "PYTHONPATH"}
        env.update(
            RAGBOT_DATA_DIR=data,  # a new user's empty library
            RAGBOT_MODEL_CACHE_DIR=str(models),  # the exported model only: the same weights, exported once
            PYTHONPATH=str(ROOT),
            COLUMNS=str(WIDTH),
            LINES="50",
            TERM="dumb",
        )
        done = subprocess.run(
            [sys.executable, "-c", _REPL], input="".join(q + "\n" for q in QUESTIONS), capture_output=True,
            text=True, cwd=ROOT, env=env, timeout=600, check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"the REPL failed ({done.returncode}): {done.stderr.strip()}")
    body = "\n".join(line.rstrip() for line in done.stdout.splitlines()).strip("\n")
    return f"$ make run\n.venv/bin/ragbot repl\n{body}\n"


def block(text: str) -> str:
    """The session as README.md holds it, markers included."""
    return f"{BEGIN}\n```text\n{text}```\n{END}"


def readme_block(readme: str) -> str | None:
    """The session block currently in README.md, or None when the markers are missing."""
    found = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), readme, re.DOTALL)
    return found.group(0) if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the block in README.md")
    args = parser.parse_args()
    text = session()
    if not args.write:
        print(text, end="")
        return 0
    readme = README.read_text(encoding="utf-8")
    old = readme_block(readme)
    if old is None:
        raise SystemExit(f"README.md has no session markers ({BEGIN} … {END})")
    README.write_text(readme.replace(old, block(text)), encoding="utf-8")
    print(f"wrote {len(text.splitlines())} lines into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
