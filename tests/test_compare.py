"""`fedforge compare`: headline test metrics of the workspace against a git revision, exit 1 beyond tolerance."""
from __future__ import annotations

import contextlib
import json
import subprocess

import pytest

from fedforge import cli, compare
from fedforge.train.metrics import METRIC_KEYS
from tests.conftest import tiny_params_dict, write_params

GIT = ["git", "-c", "user.email=test@fedforge", "-c", "user.name=test"]
CENTRAL = "artifacts/centralized/bloodmnist/metrics.json"
FEDERATED = "artifacts/federated/A/metrics.json"


def write_metrics(root, path: str, acc: float) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(json.dumps({"test": {"acc": acc, "auc": 0.9, "balanced_acc": 0.5, "loss": 1.0}}))


@pytest.fixture
def repo(tmp_path):
    """A git repo whose HEAD holds bloodmnist's centralized and phase A's metrics (acc 0.80 and 0.70)."""
    params = tiny_params_dict(**{"data.datasets": ["bloodmnist"]})
    params["phases"] = {"A": params["phases"]["A"]}
    write_params(tmp_path, params)
    write_metrics(tmp_path, CENTRAL, 0.80)
    write_metrics(tmp_path, FEDERATED, 0.70)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*GIT, "commit", "-qm", "results"], cwd=tmp_path, check=True)
    with contextlib.chdir(tmp_path):
        yield tmp_path


def test_identical_rerun_agrees(repo, capsys):
    assert cli.main(["compare"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "6 of 6 headline metrics agree with HEAD within 0.02"


def test_difference_within_tolerance_agrees_and_beyond_it_fails(repo, capsys):
    write_metrics(repo, FEDERATED, 0.705)
    assert cli.main(["compare", "HEAD", "--tolerance", "0.01"]) == 0
    assert cli.main(["compare", "HEAD", "--tolerance", "0.001"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines()[::-1] if line.startswith(FEDERATED) and " acc " in line)
    assert row.split() == [FEDERATED, "acc", "0.7000", "0.7050", "0.0050", "NO"]
    assert out.splitlines()[-1] == "5 of 6 headline metrics agree with HEAD within 0.001"


def test_missing_workspace_result_fails(repo, capsys):
    (repo / CENTRAL).unlink()
    assert cli.main(["compare"]) == 1
    assert "missing" in capsys.readouterr().out


def test_unknown_revision_is_a_one_line_error(repo, capsys):
    assert cli.main(["compare", "no-such-rev"]) == 2
    assert capsys.readouterr().err == "fedforge compare: error: no-such-rev: not a git revision of this repository\n"


def test_compared_keys_are_the_headline_metrics_without_loss():
    assert compare.COMPARED_KEYS == tuple(k for k in METRIC_KEYS if k != "loss")
