"""The dashboard's TypeScript API types must match the monitor's OpenAPI schema (regenerate: npm run gen:api)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.dashboard.harness import REPO

DASHBOARD = REPO / "dashboard"


def test_generated_types_are_current():
    if shutil.which("node") is None or not (DASHBOARD / "node_modules" / "openapi-typescript").is_dir():
        pytest.skip("needs node and dashboard/node_modules: cd dashboard && npm ci")
    result = subprocess.run(["node", "scripts/gen-api.mjs", "--check"], check=False, cwd=DASHBOARD, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
