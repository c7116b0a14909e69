"""Experiments on a fresh clone: `dvc exp run -S … <target>` with an empty DVC cache saves its experiment.

The committed dvc.lock names outputs this clone never built or pulled (artifacts/analysis/ …); saving an
experiment must not need them. Then the experiment commands of docs/results.md, in the order shown, work as written.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_tracked_files, tiny_params_dict, write_params

pytestmark = pytest.mark.slow
DVC = [sys.executable, "-m", "dvc"]
GIT = ["git", "-c", "user.email=test@fedforge", "-c", "user.name=test"]


def run(cmd: list[str], cwd, env) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture
def fresh_clone(tmp_path):
    """This repo's tracked files, committed dvc.lock included, in a new git repo: an empty DVC cache, tiny params."""
    dst = tmp_path / "repo"
    copy_tracked_files(dst)
    params = tiny_params_dict(**{"data.datasets": ["bloodmnist"], "phases.A.local_epochs": 1})
    params["phases"] = {"A": params["phases"]["A"]}
    write_params(dst, params)
    env = {**os.environ, "PYTHONPATH": str(dst), "DVC_NO_ANALYTICS": "1", "FEDFORGE_MONITOR_URL": "",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # the stages run `python`
           "FLWR_HOME": str(tmp_path / "flwr"), "OMP_NUM_THREADS": "1"}
    run(["git", "init", "-q"], dst, env)
    run([*GIT, "add", "-A"], dst, env)
    run([*GIT, "commit", "-qm", "fresh clone"], dst, env)
    assert not (dst / ".dvc/cache").exists()
    return dst, env


def experiments(repo, env) -> dict[str, dict]:
    """name -> params of each experiment `dvc exp show` lists."""
    shown = json.loads(run([*DVC, "exp", "show", "--json"], repo, env))
    return {exp["name"]: exp["data"]["params"]["params.yaml"]["data"]
            for baseline in shown for exp in (baseline.get("experiments") or [])
            for exp in exp["revs"]}


def test_exp_run_on_a_fresh_clone_saves_the_experiment_and_readme_commands_work(fresh_clone):
    repo, env = fresh_clone
    run([*DVC, "exp", "run", "-n", "one-round", "-S", "phases.A.rounds=1", "federate@A"], repo, env)
    assert experiments(repo, env)["one-round"]["phases"]["A"]["rounds"] == 1

    readme = (REPO / "docs/results.md").read_text()  # the experiment example moved there from README.md
    commands = re.findall(r"^(dvc exp run --temp -n iid-fedavg .*?federate@A|dvc metrics diff HEAD iid-fedavg .*?)"
                          r"\s*(?:#|$)", readme, flags=re.MULTILINE)
    assert len(commands) == 2, "docs/results.md's experiment example changed: update this test"
    run([*GIT, "checkout", "-q", "--", "."], repo, env)  # back to the baseline, as on the user's clean clone
    run(commands[0].split(), repo, env)
    assert experiments(repo, env)["iid-fedavg"]["partition"]["preset"] == "iid"
    diff = run(commands[1].split(), repo, env)
    assert "artifacts/federated/A/metrics.json" in diff and "test.acc" in diff
