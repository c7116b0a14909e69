"""dvc.yaml's centralized@<dataset>: depends on what it reads and nothing else, declares what it writes."""
from __future__ import annotations

import yaml

from tests.conftest import REPO


def _stage() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["centralized"]["do"]


def test_deps_are_the_central_arrays_code_and_only_the_params_read():
    stage = _stage()
    assert "artifacts/preprocessed/${item}/central" in stage["deps"]
    assert not any("clients" in dep for dep in stage["deps"])  # a partition change must not re-run the baseline
    assert {"stages/centralized.py", "fedforge/models", "fedforge/train", "fedforge/config.py"} <= set(stage["deps"])
    assert set(stage["params"]) == {"seed", "model", "centralized", "device", "device_fallback", "threads"}


def test_outputs_metrics_and_plots_match_what_run_centralized_writes():
    stage = _stage()
    assert stage["outs"] == ["artifacts/centralized/${item}/model"]
    assert [next(iter(m)) for m in stage["metrics"]] == ["artifacts/centralized/${item}/metrics.json"]
    plots = {next(iter(p)): next(iter(p.values())) for p in stage["plots"]}
    assert plots["artifacts/centralized/${item}/plots/confusion.json"]["template"] == "confusion"
    assert {"artifacts/centralized/${item}/plots/train_loss.tsv", "artifacts/centralized/${item}/plots/eval.tsv",
            "artifacts/centralized/${item}/loss_curve.svg"} <= set(plots)
    declared = str(stage)
    assert "timing.json" not in declared  # wall-clock numbers would change dvc.lock on every run
