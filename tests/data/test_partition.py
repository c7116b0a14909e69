"""partition@<dataset>: flwr-datasets presets, seeded, local val hold-out, minimum client size."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fedforge.data import DataError
from fedforge.data.partition import make_partitions
from fedforge.data.synthetic import split_labels

LABELS = split_labels("bloodmnist", "train", 0.1, seed=0)  # 1196 labels, real class proportions


def partitions(preset="moderate", seed=0, num_clients=3, min_client_size=20, labels=LABELS):
    alpha = {"iid": None, "moderate": 1.0, "severe": 0.1}[preset]
    return make_partitions(labels, num_clients=num_clients, preset=preset, alpha=alpha, seed=seed,
                           min_client_size=min_client_size, val_fraction=0.1)


def skew(clients, labels=LABELS) -> float:
    """Mean total-variation distance between each client's label distribution and the global one."""
    overall = np.bincount(labels, minlength=8) / len(labels)
    dists = [np.bincount(labels[tr], minlength=8) / len(tr) for tr, _ in clients.values()]
    return float(np.mean([0.5 * np.abs(d - overall).sum() for d in dists]))


@pytest.mark.parametrize("preset", ["iid", "moderate", "severe"])
def test_clients_cover_train_split_exactly_once(preset):
    clients = partitions(preset)
    assert list(clients) == ["client_0", "client_1", "client_2"]
    everything = np.concatenate([np.concatenate(parts) for parts in clients.values()])
    assert np.array_equal(np.sort(everything), np.arange(len(LABELS)))
    for train, val in clients.values():
        assert train.dtype == np.int64 and np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
        assert len(train) >= 20
        assert abs(len(val) / (len(train) + len(val)) - 0.1) < 0.01


@pytest.mark.parametrize("preset", ["iid", "severe"])
def test_same_seed_same_partition_other_seed_differs(preset):
    a, b, c = partitions(preset, seed=1), partitions(preset, seed=1), partitions(preset, seed=2)
    assert all(np.array_equal(a[k][i], b[k][i]) for k in a for i in (0, 1))
    assert not all(np.array_equal(a[k][0], c[k][0]) for k in a)


def test_iid_is_balanced_and_presets_get_more_skewed():
    iid = partitions("iid")
    sizes = [len(tr) + len(va) for tr, va in iid.values()]
    assert max(sizes) - min(sizes) <= 1
    assert skew(iid) < 0.08 < skew(partitions("moderate")) < skew(partitions("severe"))


def test_unreachable_minimum_is_a_clear_error():
    with pytest.raises(DataError, match=r"min_client_size.*(lower|fewer)"):
        partitions("iid", num_clients=3, min_client_size=500)


def test_dirichlet_that_cannot_meet_minimum_is_a_clear_error():
    labels = np.repeat(np.arange(8), 10)  # 80 images, 8 classes; severe skew + minimum 20 of 4 clients
    with pytest.raises(DataError, match=r"preset severe .*min_client_size.*in the first draw client_\d+ got \d+\."):
        partitions("severe", num_clients=4, min_client_size=17, labels=labels)


def test_run_partition_outputs(tiny_data):
    indices = tiny_data.partition_dir / "indices"
    assert sorted(p.name for p in indices.iterdir()) == [
        "client_0_train.npy", "client_0_val.npy", "client_1_train.npy", "client_1_val.npy"]
    stats = json.loads((tiny_data.partition_dir / "stats.json").read_text())
    per_client = json.loads((tiny_data.partition_dir / "clients.json").read_text())
    train0 = np.load(indices / "client_0_train.npy")
    assert per_client["sizes"]["client_0"]["train"] == len(train0) and stats["preset"] == "moderate"
    assert sum(per_client["label_histograms"]["client_0"].values()) == len(train0)
    assert 0 < stats["label_skew"] < 1
    # DVC metrics keep a fixed set of keys, whatever the number of clients (per-client data is in clients.json)
    assert sorted(stats) == ["alpha", "dataset", "label_skew", "min_client_size", "num_classes", "num_clients",
                             "preset", "seed", "total_train", "train_sizes", "val_fraction"]
    rows = json.loads((tiny_data.partition_dir / "label_histogram.json").read_text())
    assert {r["client"] for r in rows} == {"client_0", "client_1"}
    assert sum(r["count"] for r in rows if r["client"] == "client_0") == len(train0)
