"""dvc.yaml follows params.yaml: every phase and dataset feeds `analysis` and draws a line in the top-level plots.

DVC cannot loop over `phases:` in one stage's deps or in the top-level plots, so a phase added to params.yaml
must be added to dvc.yaml by hand; this test (and stages/analysis.py at run time) says when it was not.
"""
from __future__ import annotations

import copy
import importlib.util

import yaml

from tests.conftest import REPO


def load_stage_module():
    spec = importlib.util.spec_from_file_location("analysis_stage", REPO / "stages/analysis.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def repo_yaml(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


def test_every_phase_and_dataset_is_declared_for_analysis_and_plots():
    assert load_stage_module().undeclared_phase_inputs(repo_yaml("dvc.yaml"), repo_yaml("params.yaml")) == []


def test_a_new_phase_missing_from_dvc_yaml_is_named():
    params = repo_yaml("params.yaml")
    params["phases"]["D"] = copy.deepcopy(params["phases"]["A"])
    missing = load_stage_module().undeclared_phase_inputs(repo_yaml("dvc.yaml"), params)
    assert missing[:2] == ["artifacts/federated/D/rounds.tsv", "artifacts/federated/D/metrics.json"]
    assert "plots.global_test_acc: artifacts/analysis/curves/D.tsv" in missing


def test_no_plot_names_a_file_inside_a_cached_directory_output():
    """Such a path is resolved through the DVC cache: `dvc exp run <target>` on a fresh clone fails to save."""
    dvc_yaml = repo_yaml("dvc.yaml")
    dir_outs = {"artifacts/analysis"} | {o for s in dvc_yaml["stages"].values() for o in s.get("outs", [])
                                         if isinstance(o, str)}
    path_plots = [p if isinstance(p, str) else next(iter(p)) for p in dvc_yaml["plots"]
                  if isinstance(p, str) or not isinstance(next(iter(p.values())).get("y"), dict)]
    inside = [p for p in path_plots for d in dir_outs if p.startswith(d.replace("${item}", "").rstrip("/") + "/")]
    assert inside == []
