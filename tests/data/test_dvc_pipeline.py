"""End to end: `dvc repro` of the data stages in a temporary copy of the repo (tiny synthetic data).

Checks the acceptance criteria: a second repro is a no-op; deleting data/, artifacts/ and the DVC cache
then re-running reproduces dvc.lock bit for bit; changing partition.preset re-runs partition and
preprocess only, and leaves preprocess's central/ outputs byte-identical.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_tracked_files, tiny_params_dict, write_params

pytestmark = pytest.mark.slow
DATA_STAGES = ["audit", "preprocess"]  # their upstream download@ and partition@ run too


def run(cmd: list[str], cwd: Path, env: dict) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture
def repo_copy(tmp_path) -> tuple[Path, dict]:
    """The tracked files of this repo in a fresh git repo, with tiny params (BloodMNIST only)."""
    dst = tmp_path / "repo"
    copy_tracked_files(dst)
    (dst / "dvc.lock").unlink(missing_ok=True)
    params = tiny_params_dict(**{"data.datasets": ["bloodmnist"]})
    params["phases"] = {name: phase for name, phase in params["phases"].items() if phase["dataset"] == "bloodmnist"}
    write_params(dst, params)
    # The copy's own fedforge/ must be what the stages import (its files are the stages' deps).
    env = {**os.environ, "PYTHONPATH": str(dst), "DVC_NO_ANALYTICS": "1"}
    git = ["git", "-c", "user.email=test@fedforge", "-c", "user.name=test"]
    run(["git", "init", "-q"], dst, env)
    run([*git, "add", "-A"], dst, env)
    run([*git, "commit", "-qm", "copy"], dst, env)
    return dst, env


def test_data_stages_reproduce(repo_copy):
    repo, env = repo_copy
    dvc = [sys.executable, "-m", "dvc"]
    first = run([*dvc, "repro", *DATA_STAGES], repo, env)
    assert ran(first) == {"download@bloodmnist", "audit@bloodmnist", "partition@bloodmnist", "preprocess@bloodmnist"}
    assert "Data and pipelines are up to date" in run([*dvc, "repro", *DATA_STAGES], repo, env)

    lock = (repo / "dvc.lock").read_text()
    for folder in ("data", "artifacts", ".dvc/cache"):
        shutil.rmtree(repo / folder)
    run([*dvc, "repro", *DATA_STAGES], repo, env)
    assert (repo / "dvc.lock").read_text() == lock, "a clean re-run must reproduce dvc.lock bit for bit"

    git = ["git", "-c", "user.email=test@fedforge", "-c", "user.name=test"]
    run([*git, "add", "dvc.lock"], repo, env)
    run([*git, "commit", "-qm", "lock"], repo, env)
    severe = run([*dvc, "exp", "run", "-S", "partition.preset=severe", *DATA_STAGES], repo, env)
    assert ran(severe) == {"partition@bloodmnist", "preprocess@bloodmnist"}

    def central_hash(text: str) -> str:
        outs = yaml.safe_load(text)["stages"]["preprocess@bloodmnist"]["outs"]
        return next(o["md5"] for o in outs if o["path"].endswith("central"))

    assert central_hash((repo / "dvc.lock").read_text()) == central_hash(lock)
