"""Two runs of one phase on one machine leave byte-identical declared outputs, whatever the number of worker
processes the local engine trains the hospitals in; wall time only in timing.json."""
from __future__ import annotations

import json

from fedforge import config
from fedforge.fl import appconfig, engine
from tests.fl.conftest import tiny_raw, write_tiny_data

PHASE = {"strategy": "fedavgm", "server_lr": 1.0, "server_momentum": 0.9}  # server state lands in the checkpoint
OUT = "artifacts/federated/T"
DECLARED = (f"{OUT}/rounds.tsv", f"{OUT}/metrics.json", f"{OUT}/model/model.safetensors",
            "artifacts/checkpoints/T/checkpoint.npz")


def run(root, workers: int | str = 1) -> dict[str, bytes]:
    """Run phase T in a fresh repo at `root` on `workers` processes; the bytes of each declared output."""
    write_tiny_data(root)
    raw = tiny_raw(**PHASE)
    raw["federation"]["workers"] = workers
    cfg = config.parse(raw)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=root))
    return {name: (root / name).read_bytes() for name in DECLARED}


def test_two_runs_give_identical_outputs_and_time_only_the_log(tmp_path_factory):
    first_root, second_root = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    first, second = run(first_root), run(second_root)
    assert [name for name in DECLARED if first[name] != second[name]] == []
    header = first[f"{OUT}/rounds.tsv"].decode().splitlines()[0].split("\t")
    assert header == ["round", "test_acc", "test_auc", "test_balanced_acc", "test_loss", "train_loss_mean",
                      "clients_ok", "clients_failed", "num_examples", "bytes_down", "bytes_up",
                      "clients_acc_mean", "clients_acc_worst", "clients_balanced_acc_mean",
                      "clients_balanced_acc_worst", "train_loss.client_0", "train_loss.client_1"]
    timing = json.loads((second_root / OUT / "timing.json").read_text())
    assert [e["round"] for e in timing["round_seconds"]] == [1, 2]
    assert (timing["start_round"], timing["rounds_run"], timing["engine"]) == (1, 2, "local")


def test_one_and_two_workers_give_identical_outputs(tmp_path_factory):
    one, two = run(tmp_path_factory.mktemp("one"), workers=1), run(tmp_path_factory.mktemp("two"), workers=2)
    assert [name for name in DECLARED if one[name] != two[name]] == []
