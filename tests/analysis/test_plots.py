"""Figures and tables: every figure renders to a non-empty, byte-stable PNG; tables carry the right numbers."""
from __future__ import annotations

import pytest

from fedforge.analysis import plots
from fedforge.analysis.load import load_inputs


@pytest.fixture
def inputs(phase_outputs, phases):
    return load_inputs(phases, phase_outputs)


@pytest.mark.parametrize("name", sorted(plots.FIGURES))
def test_figure_is_a_stable_png(inputs, tmp_path, name):
    first = plots.save_figure(plots.FIGURES[name](inputs), tmp_path / "a" / name).read_bytes()
    second = plots.save_figure(plots.FIGURES[name](inputs), tmp_path / "b" / name).read_bytes()
    assert first.startswith(b"\x89PNG") and len(first) > 5_000
    assert first == second
    assert b"Software" not in first and b"matplotlib" not in first.lower()


def test_phase_table_lists_every_phase_with_its_gap(inputs):
    table = [line for line in plots.phase_table(inputs).splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(inputs.phases)
    name, run = next(iter(inputs.phases.items()))
    row = table[2].split("|")
    assert row[1].strip() == name and row[2].strip() == run.dataset and row[4].strip() == "synthetic"
    assert row[6].strip() == "0.750" and row[9].strip() == "0.850" and row[11].strip() == "-0.100"
    assert row[12].strip() == "7.2"  # 3 rounds x 3 clients x 0.8 MB


def test_client_spread_ignores_a_failed_client(inputs):
    run = list(inputs.phases.values())[1]
    spread = plots.client_spread(run)
    assert spread.loc[1, "min"] == pytest.approx(0.75) and spread.loc[1, "max"] == pytest.approx(0.95)
    assert spread.loc[1, "clients_failed"] == "client_1"
    assert spread["lagging_client"].tolist() == ["client_2"] * 3


def test_gap_table_is_federated_minus_centralized(inputs):
    gaps = plots.gap_table(inputs)
    assert gaps["gap_acc"].tolist() == pytest.approx([-0.1] * len(inputs.phases))


def test_curves_keep_the_learning_curve_and_add_cost_and_spread(inputs, tmp_path):
    paths_written = plots.write_curves(inputs, tmp_path)
    assert [p.stem for p in paths_written] == list(inputs.phases)
    header, first, *_ = paths_written[0].read_text().splitlines()
    assert header.split("\t") == ["round", "test_acc", "test_auc", "test_balanced_acc", "test_loss",
                                   "train_loss_mean", "client_loss_std", "cumulative_mb"]
    assert first.split("\t")[0] == "1" and first.split("\t")[-1] == "2.400000"  # 3 clients x 0.8 MB


def test_every_output_names_its_data(phase_outputs, phases, tmp_path):
    data = {"source": "synthetic", "scale": 0.02, "image_size": 28}
    inputs = load_inputs(phases, phase_outputs, data)
    assert inputs.source_note == "synthetic twin of MedMNIST, scale 0.02, 28 px"
    assert plots.phase_table(inputs).endswith("_Data: synthetic twin of MedMNIST, scale 0.02, 28 px._\n")
    assert plots.convergence_figure(inputs)._suptitle.get_text().endswith("(synthetic twin of MedMNIST, scale 0.02, 28 px)")
