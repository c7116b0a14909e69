"""Reading phase outputs: the exact format fedforge/fl/results.py writes in, numbers out; gaps are loud."""
from __future__ import annotations

import math

import pytest

from fedforge import paths
from fedforge.analysis.load import MalformedOutputError, MissingOutputError, load_inputs, read_rounds


def test_reads_every_phase_and_baseline(phase_outputs, phases):
    inputs = load_inputs(phases, phase_outputs)
    assert list(inputs.phases) == list(phases)
    assert set(inputs.centralized) == {p["dataset"] for p in phases.values()}
    assert inputs.data_sources == ["synthetic"]
    run = next(iter(inputs.phases.values()))
    assert run.client_ids == ["client_0", "client_1", "client_2"]
    assert run.rounds["round"].tolist() == [1, 2, 3]
    assert run.rounds["test_acc"].iloc[-1] == pytest.approx(0.75)


def test_failed_client_has_no_loss_and_keeps_its_id(phase_outputs, phases):
    second = list(phases)[1]
    rounds = read_rounds(paths.federated_dir(second, phase_outputs) / "rounds.tsv")
    assert math.isnan(rounds.loc[1, "train_loss.client_1"])
    assert rounds.loc[1, "clients_failed"] == "client_1"
    assert rounds.loc[0, "clients_failed"] == ""
    assert rounds.loc[0, "clients_ok"] == "client_0,client_1,client_2"


def test_missing_files_are_all_named_with_their_fix(phase_outputs, phases):
    names = list(phases)
    (paths.federated_dir(names[0], phase_outputs) / "rounds.tsv").unlink()
    dataset = phases[names[-1]]["dataset"]
    (paths.centralized_dir(dataset, phase_outputs) / "metrics.json").unlink()
    with pytest.raises(MissingOutputError) as err:
        load_inputs(phases, phase_outputs)
    message = str(err.value)
    assert f"federated/{names[0]}/rounds.tsv" in message and f"dvc repro federate@{names[0]}" in message
    assert f"centralized/{dataset}/metrics.json" in message and f"dvc repro centralized@{dataset}" in message


def test_wrong_column_order_is_rejected(phase_outputs, phases):
    path = paths.federated_dir(next(iter(phases)), phase_outputs) / "rounds.tsv"
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    header[1], header[2] = header[2], header[1]
    path.write_text("\n".join(["\t".join(header)] + lines[1:]) + "\n")
    with pytest.raises(MalformedOutputError, match="do not start with"):
        read_rounds(path)


def test_non_numeric_global_metric_is_rejected(phase_outputs, phases):
    path = paths.federated_dir(next(iter(phases)), phase_outputs) / "rounds.tsv"
    lines = path.read_text().splitlines()
    row = lines[2].split("\t")
    row[1] = ""
    path.write_text("\n".join(lines[:2] + ["\t".join(row)] + lines[3:]) + "\n")
    with pytest.raises(MalformedOutputError, match="'test_acc' row 2"):
        read_rounds(path)


def test_metrics_without_test_keys_is_rejected(phase_outputs, phases):
    path = paths.federated_dir(next(iter(phases)), phase_outputs) / "metrics.json"
    path.write_text('{"test": {"acc": 0.5}}')
    with pytest.raises(MalformedOutputError, match="auc"):
        load_inputs(phases, phase_outputs)


def test_reads_what_the_federation_writes(tmp_path):
    """Guards the contract both ways: FED's writer output parses, including a failed client's empty loss."""
    from fedforge.fl.results import write_rounds_tsv

    rows = [{"round": 1, "test_acc": 0.5, "test_auc": 0.7, "test_balanced_acc": 0.4, "test_loss": 1.2,
             "train_loss_mean": 1.1, "clients_ok": ["client_0"], "clients_failed": ["client_1"], "num_examples": 90,
             "bytes_down": 1000, "bytes_up": 500, "train_loss.client_0": 1.1}]
    write_rounds_tsv(tmp_path / "rounds.tsv", rows, ["client_0", "client_1"])
    rounds = read_rounds(tmp_path / "rounds.tsv")
    assert rounds.loc[0, "clients_failed"] == "client_1" and rounds.loc[0, "bytes_up"] == 500
    assert rounds.loc[0, "train_loss.client_0"] == pytest.approx(1.1)
    assert math.isnan(rounds.loc[0, "train_loss.client_1"])


def test_outputs_from_another_data_source_than_params_are_refused(phase_outputs, phases):
    with pytest.raises(MalformedOutputError, match="data.source=medmnist; run `dvc repro`"):
        load_inputs(phases, phase_outputs, {"source": "medmnist", "scale": 1.0, "image_size": 28})
