"""The architecture as the imports show it: front ends use the facade only, and engine layers import downwards."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import ROOT

# Lower number = lower layer; a module may import its own layer or lower ones (docs/architecture.md).
LAYERS = {
    "errors": 0, "settings": 0, "types": 0, "text": 0, "terms": 0, "minhash": 0,
    "embedding": 1, "llm": 1, "store": 2, "search": 3, "answer": 4, "ingest": 5, "library": 6, "evaluate": 7,
}


def _imports(path: Path) -> list[str]:
    """Every module named by an import statement of the file (`from x import y` gives `x`)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
    return out


def test_the_front_ends_import_the_engine_through_its_facade_only() -> None:
    reaching_in = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "bot").rglob("*.py"))
        for module in _imports(path)
        if module.startswith("retrieval.")
    ]
    assert reaching_in == []


def test_engine_modules_import_only_their_own_layer_or_lower_ones() -> None:
    upward = []
    for path in sorted((ROOT / "retrieval").rglob("*.py")):
        own = path.relative_to(ROOT / "retrieval").with_suffix("").parts[0]
        if own == "__init__":
            continue
        assert own in LAYERS, f"{own} has no layer: add it to LAYERS and docs/architecture.md"
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] == "bot":
                upward.append(f"{path.relative_to(ROOT)}: {module}")
            if parts[0] == "retrieval" and len(parts) > 1 and LAYERS.get(parts[1], -1) > LAYERS[own]:
                upward.append(f"{path.relative_to(ROOT)}: {module}")
    assert upward == []
