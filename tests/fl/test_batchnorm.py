"""phases.<X>.bn: FedBN (local BatchNorm that never leaves the hospital and survives a resume) and
re-estimated global BatchNorm statistics."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fedforge import config
from fedforge.fl import appconfig, batchnorm, engine, strategies, task
from fedforge.fl.observe import PhaseFailed
from fedforge.models.factory import load_model
from fedforge.train.data import ArrayDataset
from tests.fl.conftest import tiny_config, tiny_raw, write_tiny_data

OUT = "artifacts/federated/T"
LOCAL = {"bn": "local", "rounds": 3, "min_clients": 2}
DETERMINISTIC = (f"{OUT}/metrics.json", f"{OUT}/rounds.tsv", f"{OUT}/model/client_0/model.safetensors",
                 f"{OUT}/model/client_1/model.safetensors", "artifacts/checkpoints/T/checkpoint.npz")


def run(root, **phase):
    cfg = tiny_config(**phase)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=root))


def tiny_model(root):
    cfg = tiny_config()
    return task.new_model(cfg, root, "bloodmnist", cfg.phase("T"))


def test_batchnorm_keys_are_every_batchnorm_parameter_and_buffer(tiny_repo):
    model = tiny_model(tiny_repo)
    keys = batchnorm.batchnorm_keys(model)
    norms = [n for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert keys == [f"{n}.{k}" for n in norms for k in ("weight", "bias", "running_mean", "running_var",
                                                         "num_batches_tracked")]


def test_pooled_statistics_equal_one_pass_over_all_hospitals(tiny_repo):
    """update_bn over the union of the hospitals' batches = the batch-weighted mean of their own passes."""
    model = tiny_model(tiny_repo)
    rng = np.random.default_rng(0)
    parts = [ArrayDataset(rng.normal(i, 1 + i, (16 * n, 3, 12, 12)).astype(np.float32), np.zeros(16 * n, np.int64))
             for i, n in enumerate((2, 5))]
    orders = [batchnorm.shuffled_order(len(ds), seed) for seed, ds in enumerate(parts)]
    pooled = batchnorm.pooled_statistics([batchnorm.estimate_statistics(model, ds, order, 16, "cpu")
                                          for ds, order in zip(parts, orders, strict=True)])
    union = ArrayDataset(np.concatenate([ds.x for ds in parts]), np.concatenate([ds.y for ds in parts]))
    whole, batches = batchnorm.estimate_statistics(model, union, np.concatenate([orders[0], orders[1] + 32]), 16,
                                                   "cpu")
    assert batches == 7
    assert sorted(pooled) == sorted(whole.keys()) and all(batchnorm.is_running_stat(k) for k in pooled)
    for key in pooled:
        np.testing.assert_allclose(pooled[key].numpy(), whole[key].numpy(), rtol=1e-5, atol=1e-6)


def test_statistics_pass_stops_after_max_batches_of_its_order(tiny_repo):
    model = tiny_model(tiny_repo)
    ds = ArrayDataset(np.random.default_rng(1).normal(0, 1, (80, 3, 12, 12)).astype(np.float32), np.zeros(80, np.int64))
    order = batchnorm.shuffled_order(80, seed=3)
    capped, batches = batchnorm.estimate_statistics(model, ds, order, 16, "cpu", max_batches=2)
    first, _ = batchnorm.estimate_statistics(model, ds, order[:32], 16, "cpu")
    assert batches == 2
    assert {k: np.array_equal(capped[k].numpy(), first[k].numpy()) for k in first} == dict.fromkeys(first, True)


def test_a_capped_pass_over_a_class_sorted_split_sees_every_class(tiny_repo):
    """Hospital splits are stored class by class: the capped pass must sample them, not read the first images.
    Two 'classes' with means -3 and +3: the shuffled pass's first-layer mean is near 0, in-order near -3."""
    model = tiny_model(tiny_repo)
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(-3, 1, (64, 3, 12, 12)), rng.normal(3, 1, (64, 3, 12, 12))]).astype(np.float32)
    ds = ArrayDataset(x, np.repeat(np.arange(2), 64))
    first = next(k for k in batchnorm.batchnorm_keys(model) if k.endswith("running_mean"))
    shuffled, _ = batchnorm.estimate_statistics(model, ds, batchnorm.shuffled_order(128, seed=0), 16, "cpu",
                                                max_batches=4)
    in_order, _ = batchnorm.estimate_statistics(model, ds, np.arange(128), 16, "cpu", max_batches=4)
    assert float(np.mean(np.abs(shuffled[first].numpy()))) < 0.5 * float(np.mean(np.abs(in_order[first].numpy())))


def test_bn_local_needs_batchnorm_and_no_secure_aggregation():
    raw = tiny_raw(bn="local", norm="group")
    with pytest.raises(config.ConfigError, match=r"phases.T.bn: got 'local'; allowed: global with norm group"):
        config.parse(raw)
    raw = tiny_raw(bn="recalibrated")
    raw["federation"]["secure_aggregation"] = "secaggplus"
    raw["partition"]["num_clients"] = 3
    with pytest.raises(config.ConfigError, match=r"phases.T.bn: got 'recalibrated'; allowed: global with "
                                                 r"federation.secure_aggregation secaggplus"):
        config.parse(raw)


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("fedbn")
    write_tiny_data(root)
    seen: list[set[str]] = []
    fill = strategies.ResumableRounds._fill_local_batchnorm

    def spy(self, replies, actual):
        seen.extend({*msg.content["arrays"].keys()} for msg in replies if not msg.has_error())
        fill(self, replies, actual)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FEDFORGE_MONITOR_URL", "")
        mp.setattr(strategies.ResumableRounds, "_fill_local_batchnorm", spy)
        run(root, **LOCAL)
    return root, seen


@pytest.mark.slow
def test_local_batchnorm_never_leaves_the_hospital(local_reference):
    root, seen = local_reference
    keys = set(batchnorm.batchnorm_keys(tiny_model(root)))
    assert len(seen) == 6 and all(reply and not reply & keys for reply in seen)  # 2 hospitals x 3 rounds
    own = [load_file(str(root / OUT / "model" / c / "model.safetensors")) for c in ("client_0", "client_1")]
    stat = next(k for k in keys if k.endswith("running_mean"))
    weight = next(k for k in own[0] if k not in keys)
    assert not torch.equal(own[0][stat], own[1][stat])  # each hospital its own statistics ...
    assert torch.equal(own[0][weight], own[1][weight])  # ... around the same global weights
    copies = root / "artifacts/checkpoints/T/clients/client_0"
    assert sorted(p.name for p in copies.iterdir()) == ["round_2.safetensors", "round_3.safetensors"]
    assert {k: torch.equal(v, own[0][k]) for k, v in load_file(str(copies / "round_3.safetensors")).items()} == \
        dict.fromkeys(load_file(str(copies / "round_3.safetensors")), True)
    metrics = json.loads((root / OUT / "metrics.json").read_text())
    assert metrics["bn"] == "local" and metrics["test_is"].startswith("unweighted mean over hospitals")
    assert sorted(metrics["val"]) == sorted(metrics["test"]) == ["acc", "auc", "balanced_acc", "loss"]


@pytest.mark.slow
def test_local_batchnorm_survives_a_failed_round_and_resume(tiny_repo, local_reference, monkeypatch):
    """client_1 fails in round 2 after client_0 trained (and saved its round-2 copy): the re-run resumes from
    round 1, client_0 goes back to its round-1 copy, and every output equals the uninterrupted run's."""
    reference, _ = local_reference
    monkeypatch.setenv("FEDFORGE_FAULTS", "client_1:train:2")
    with pytest.raises(PhaseFailed, match="round 2"):
        run(tiny_repo, **LOCAL)
    assert (tiny_repo / "artifacts/checkpoints/T/clients/client_0/round_2.safetensors").is_file()
    monkeypatch.delenv("FEDFORGE_FAULTS")
    (tiny_repo / OUT / "rounds.tsv").unlink()  # what `dvc repro` does to declared outputs before the re-run
    run(tiny_repo, **LOCAL)
    assert [n for n in DETERMINISTIC if (tiny_repo / n).read_bytes() != (reference / n).read_bytes()] == []


@pytest.mark.slow
def test_recalibrated_statistics_are_the_hospitals_pooled_pass(tiny_repo):
    run(tiny_repo, bn="recalibrated", rounds=2)
    model = load_model(tiny_repo / OUT / "model")
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    batch_size = tiny_config().phase("T").batch_size
    datasets = [task.client_data(tiny_repo, "bloodmnist", pid)[0] for pid in (0, 1)]
    orders = [batchnorm.shuffled_order(len(ds), task.client_seed(tiny_config().seed, 2, pid))  # as in round 2
              for pid, ds in enumerate(datasets)]
    expected = batchnorm.pooled_statistics([  # the hospitals' pass over the final global weights, pooled
        batchnorm.estimate_statistics(model, ds, order, batch_size, "cpu")
        for ds, order in zip(datasets, orders, strict=True)])
    assert expected
    for key, value in expected.items():
        np.testing.assert_allclose(saved[key].numpy(), value.numpy(), rtol=1e-6, atol=1e-7)
