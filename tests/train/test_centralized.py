"""run_centralized end to end on the tiny synthetic twin: outputs, reproducibility, CLI, device policy."""
from __future__ import annotations

import contextlib
import json
import shutil

import pytest

from fedforge import cli, config, paths
from fedforge.models.factory import load_model
from fedforge.train.centralized import run_centralized
from tests.conftest import tiny_params_dict, write_params

OVERRIDES = {"centralized.epochs": 2, "centralized.logging_steps": 1, "centralized.batch_size": 64}


def _workdir(tmp_path, tiny_data, name: str, **overrides):
    """A folder holding a copy of the tiny central arrays and a params.yaml, as the stage sees the repo."""
    root = tmp_path / name
    shutil.copytree(tiny_data.central_dir, root / paths.preprocessed_central_dir(tiny_data.dataset))
    params = write_params(root, tiny_params_dict(**{**OVERRIDES, **overrides}))
    return root, config.load(params)


@pytest.mark.slow
def test_outputs_and_bit_for_bit_reproducibility(tmp_path, tiny_data):
    ds = tiny_data.dataset
    runs = []
    for name in ("a", "b"):
        root, cfg = _workdir(tmp_path, tiny_data, name)
        with contextlib.chdir(root):
            metrics = run_centralized(cfg, ds)
        runs.append((root / paths.centralized_dir(ds), metrics))
    (out, metrics), (out_b, _) = runs

    meta = json.loads((tiny_data.central_dir / "meta.json").read_text())
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == metrics
    assert set(metrics["test"]) == set(metrics["val"]) == {"acc", "auc", "balanced_acc", "loss"}
    assert metrics["data_source"] == meta["data_source"] == "synthetic"
    assert metrics["device"] == "cpu" and metrics["epochs"] == 2 and metrics["best_epoch"] in (1, 2)
    assert "examples_per_second" in json.loads((out / "timing.json").read_text())

    for rel in ("metrics.json", "model/model.safetensors", "model/config.json", "plots/train_loss.tsv",
                "plots/eval.tsv", "plots/confusion.json", "loss_curve.svg"):
        assert (out / rel).read_bytes() == (out_b / rel).read_bytes(), f"{rel} differs between identical runs"

    model = load_model(out / "model")
    assert [model.config.id2label[i] for i in range(meta["num_classes"])] == meta["label_names"]
    confusion = json.loads((out / "plots/confusion.json").read_text())
    assert len(confusion) == meta["sizes"]["test"]
    assert {row["actual"] for row in confusion} <= set(meta["label_names"])
    train_rows = (out / "plots/train_loss.tsv").read_text().splitlines()
    assert train_rows[0] == "step\tepoch\tloss" and len(train_rows) > 2
    assert len((out / "plots/eval.tsv").read_text().splitlines()) == 1 + 2
    assert not list(out.glob(".checkpoints-*"))


@pytest.mark.slow
def test_best_epoch_is_chosen_on_the_configured_val_metric(tmp_path, tiny_data):
    """select_on: balanced_acc keeps the epoch with the highest val balanced ACC (weighted_ce as the loss)."""
    root, cfg = _workdir(tmp_path, tiny_data, "bal", **{"centralized.epochs": 3, "centralized.select_on": "balanced_acc",
                                                         "centralized.loss": "weighted_ce"})
    with contextlib.chdir(root):
        metrics = run_centralized(cfg, tiny_data.dataset)
    rows = [line.split("\t") for line in
            (root / paths.centralized_dir(tiny_data.dataset) / "plots/eval.tsv").read_text().splitlines()[1:]]
    best = max(rows, key=lambda r: (float(r[5]), -int(r[0])))
    assert metrics["best_epoch"] == int(best[0])
    assert metrics["val"]["balanced_acc"] == pytest.approx(float(best[5]), abs=1e-6)


@pytest.mark.slow
def test_cli_runs_the_same_function_and_reports_device_errors(tmp_path, tiny_data, capsys):
    root, _ = _workdir(tmp_path, tiny_data, "cli", device="cuda", device_fallback="error")
    with contextlib.chdir(root):
        code = cli.main(["centralized", "--dataset", tiny_data.dataset])
    if code == 0:
        pytest.skip("this machine has a GPU")
    assert code == 2
    assert "'cuda' is not available" in capsys.readouterr().err
    assert not (root / paths.centralized_dir(tiny_data.dataset) / "metrics.json").exists()


def test_cli_help_names_the_command(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["centralized", "--help"])
    assert info.value.code == 0
    assert "Hugging Face Trainer" in capsys.readouterr().out
