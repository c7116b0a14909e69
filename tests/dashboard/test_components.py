"""Run the dashboard's Vitest component tests from pytest, so `make test` (and CI) covers them too."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.dashboard.harness import REPO

DASHBOARD = REPO / "dashboard"


@pytest.mark.slow
def test_vitest_component_tests_pass():
    if shutil.which("npm") is None or not (DASHBOARD / "node_modules" / "vitest").is_dir():
        pytest.skip("needs npm and dashboard/node_modules: cd dashboard && npm ci")
    result = subprocess.run(["npm", "test", "--silent"], check=False, cwd=DASHBOARD, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
