"""Sharing artifacts: `dvc push` to a folder remote, then a fresh clone's `dvc pull` is a clean, complete workspace.

Uses the data stages of a temporary copy of the repo (tiny synthetic data). The small `cache: false` outputs
travel in git (.gitignore lets them in), everything else through the remote.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data import test_dvc_pipeline as pipeline
from tests.data.test_dvc_pipeline import DATA_STAGES, ran, run

repo_copy = pipeline.repo_copy  # the fixture: tracked files of this repo in a fresh git repo, tiny params

pytestmark = pytest.mark.slow
DVC = [sys.executable, "-m", "dvc"]
GIT = ["git", "-c", "user.email=test@fedforge", "-c", "user.name=test"]
UP_TO_DATE = "Data and pipelines are up to date."


def test_push_then_pull_in_a_fresh_clone_is_clean(repo_copy, tmp_path):
    repo, env = repo_copy
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}  # stages run `python`
    run([*DVC, "repro", *DATA_STAGES], repo, env)
    remote = tmp_path / "remote"
    run([*DVC, "remote", "add", "-d", "shared", str(remote)], repo, env)
    run([*DVC, "push", "--with-deps", *DATA_STAGES], repo, env)
    run([*GIT, "add", "-A"], repo, env)
    run([*GIT, "commit", "-qm", "results"], repo, env)

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    assert not (clone / "artifacts/partitions/bloodmnist/indices").exists()
    env = {**env, "PYTHONPATH": str(clone)}
    run([*DVC, "pull", "--with-deps", *DATA_STAGES], clone, env)
    assert UP_TO_DATE in run([*DVC, "status", "--with-deps", *DATA_STAGES], clone, env)
    rerun = run([*DVC, "repro", *DATA_STAGES], clone, env)
    assert ran(rerun) == set() and UP_TO_DATE in rerun
    pulled = sorted(p.name for p in (clone / "artifacts/partitions/bloodmnist/indices").iterdir())
    assert pulled == sorted(p.name for p in (repo / "artifacts/partitions/bloodmnist/indices").iterdir())
