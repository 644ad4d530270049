"""Importing a benchmark script (bench/ is a folder of scripts, not a package) from a test."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.paths import ROOT

BENCH = ROOT / "bench"


def bench_module(name: str) -> ModuleType:
    """bench/NAME.py as a module, loaded once. Scripts that `import _common` find it: bench/ is put on sys.path
    for the load, as `python bench/NAME.py` does."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"bench/{name}.py is missing"
    module = importlib.util.module_from_spec(spec)
    added = str(BENCH) not in sys.path
    if added:
        sys.path.insert(0, str(BENCH))
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        if added:
            sys.path.remove(str(BENCH))
    return module
