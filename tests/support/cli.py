"""Running `ragbot` in child processes the way a user or a script does, and checking what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from retrieval.settings import Settings
from tests.support.paths import MODELS_DIR

RAGBOT = Path(sys.executable).with_name("ragbot")


def run(args: list[str], data_dir: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`ragbot ARGS` in a child process with a clean environment (plus `env`)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RAGBOT_", "DISCORD_"))}
    base |= {"RAGBOT_DATA_DIR": str(data_dir), "RAGBOT_MODEL_CACHE_DIR": str(MODELS_DIR), "PYTHONUNBUFFERED": "1"} | env
    return subprocess.run([str(RAGBOT), *args], input=stdin, env=base, cwd=data_dir.parent, capture_output=True, check=False, text=True, timeout=600)


def one_sentence(stderr: str) -> str:
    """The single `ragbot: ...` line a failed command prints (and never a traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ragbot: ") and "Traceback" not in stderr, stderr
    return lines[0]


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for a `ragbot` child process that opens the same library as `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGBOT_", "DISCORD_"))}
    env |= {
        "RAGBOT_DATA_DIR": str(settings.data_dir),
        "RAGBOT_MODEL_CACHE_DIR": str(MODELS_DIR),
        "RAGBOT_COLLECTION": settings.collection,
        "RAGBOT_GENERATOR": settings.generator,  # the parent's composer (the tests': extractive), not the default model
        "PYTHONUNBUFFERED": "1",
    }
    if settings.chroma_url:
        env["RAGBOT_CHROMA_URL"] = settings.chroma_url
    env |= extra
    return env
