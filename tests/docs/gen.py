"""docs/gen_reference.py, imported by path (docs/ is no package)."""
from __future__ import annotations

import functools
import importlib.util

from tests.conftest import REPO


@functools.cache
def generator():
    spec = importlib.util.spec_from_file_location("gen_reference", REPO / "docs" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
