"""Every bash line README.md shows is run here on tiny params, in a fresh clone, in README order, or listed in
SKIP with the reason it is not; a README line in neither table fails the first test, and so does a stale entry.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_tracked_files, tiny_params_dict, write_params
from tests.docs.pages import README, bash_lines
from tests.test_dvc_experiments import GIT, run

# README line -> why no test runs it as written
SKIP = {
    "make demo": "builds .venv and runs the full-scale pipeline (~8 min); `dvc repro` below is the same pipeline "
                 "on tiny params",
    "make test": "is this test suite",
    ". .venv/bin/activate": "the tests already run with the venv's python and its tools on PATH",
    "dvc exp run -S data.source=medmnist": "downloads the real MedMNIST: needs the network (tests/data/"
                                           "test_download.py runs the download path against a local HTTP server)",
    "fedforge monitor": "serves on port 8090 until Ctrl-C; tests/monitor start the same server on a free "
                        "127.0.0.1 port and stop it",
}
# The lines this file runs, in README order; each must exit 0.
RUN = [
    "dvc repro",
    "fedforge compare",
    "dvc exp run -S phases.A.rounds=5 federate@A",
    "dvc exp run -S partition.preset=severe federate@A",
    "dvc exp show",
    "dvc metrics diff",
    "dvc plots diff",
]


@pytest.fixture
def tiny_clone(tmp_path):
    """This repo's tracked files in a new git repo with an empty DVC cache; every dataset and phase, tiny."""
    repo = copy_tracked_files(tmp_path / "repo")
    params = tiny_params_dict(**{"centralized.epochs": 1})
    for phase in params["phases"].values():
        phase["rounds"] = 2
    write_params(repo, params)
    env = {**os.environ, "PYTHONPATH": str(repo), "DVC_NO_ANALYTICS": "1", "FEDFORGE_MONITOR_URL": "",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # fedforge, dvc, python
           "FLWR_HOME": str(tmp_path / "flwr"), "OMP_NUM_THREADS": "1"}
    run(["git", "init", "-q"], repo, env)
    run([*GIT, "add", "-A"], repo, env)
    run([*GIT, "commit", "-qm", "fresh clone"], repo, env)
    return repo, env


def test_every_readme_bash_line_is_run_or_skipped_with_a_reason():
    lines = bash_lines(README.read_text())
    assert [line for line in lines if line not in RUN and line not in SKIP] == [], "add it to RUN or SKIP"
    assert [entry for entry in [*RUN, *SKIP] if entry not in lines] == [], "stale entry: the README changed"
    assert all(reason.strip() for reason in SKIP.values())
    assert [line for line in lines if line in RUN] == RUN, "RUN must follow the README's order"


@pytest.mark.slow
def test_readme_bash_lines_work_on_tiny_params(tiny_clone):
    """The whole tiny pipeline, then the README's lines as written. Its results are committed first (as after
    any `dvc repro` worth keeping), so `fedforge compare` compares the workspace with them."""
    repo, env = tiny_clone
    for line in RUN:
        if line == "fedforge compare":
            run([*GIT, "add", "-A"], repo, env)
            run([*GIT, "commit", "-qm", "tiny results"], repo, env)
        result = subprocess.run(["bash", "-c", line], cwd=repo, env=env, capture_output=True, text=True,
                                timeout=1800, check=False)
        assert result.returncode == 0, f"`{line}` failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
