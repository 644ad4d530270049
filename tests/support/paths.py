"""Where the tests find the checkout, the cached models and the vendored data sets."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The exported ONNX model is cached across runs in the checkout (git-ignored): export costs ~10 s.
MODELS_DIR = Path(os.environ.get("RAGBOT_TEST_MODELS", ROOT / ".ragbot-test-models"))
SHARED_DATA = ROOT / "data"  # vendored data sets (data/README.md); nothing outside the checkout is read


def squad_questions(shared: Path, n: int, seed: int = 0) -> list[dict]:
    """n SQuAD questions drawn at random with a fixed seed."""
    rows = [json.loads(line) for line in (shared / "squad-v1.1-dev" / "questions.jsonl").open()]
    return random.Random(seed).sample(rows, n)
