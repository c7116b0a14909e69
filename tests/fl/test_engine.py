"""End-to-end phases on the local engine: every strategy, outputs, failures, determinism, resume rules."""
from __future__ import annotations

import csv
import json
import threading

import psutil
import pytest

from fedforge.fl import appconfig, checkpoint, engine
from fedforge.fl.observe import PhaseFailed
from fedforge.monitor.client.events import parse_event
from tests.fl.conftest import tiny_config

OUT = "artifacts/federated/T"


def run(root, **phase):
    cfg = tiny_config(**phase)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=root))
    return json.loads((root / OUT / "metrics.json").read_text())


def rounds(root) -> list[dict]:
    with open(root / OUT / "rounds.tsv") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def events(root) -> list:
    return [parse_event(line) for line in (root / OUT / "events.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("strategy,extra", [
    ("fedavg", {}), ("fedprox", {"proximal_mu": 0.1}), ("fedadam", {"server_lr": 0.01}),
    ("fedavgm", {"server_momentum": 0.9})])
def test_each_strategy_runs_and_writes_outputs(tiny_repo, strategy, extra):
    metrics = run(tiny_repo, strategy=strategy, **extra)
    assert metrics["rounds"] == 2 and metrics["strategy"] == strategy and metrics["engine"] == "local"
    assert set(metrics["test"]) == {"acc", "auc", "balanced_acc", "loss"} and set(metrics["val"]) == set(metrics["test"])
    assert "seconds" not in metrics  # wall time would break bit-for-bit reproducibility; it is in timing.json
    rows = rounds(tiny_repo)
    assert [r["round"] for r in rows] == ["1", "2"]
    assert list(rows[0])[:11] == ["round", "test_acc", "test_auc", "test_balanced_acc", "test_loss",
                                  "train_loss_mean", "clients_ok", "clients_failed", "num_examples",
                                  "bytes_down", "bytes_up"]
    assert rows[1]["clients_ok"] == "client_0,client_1" and rows[1]["clients_failed"] == ""
    assert int(rows[1]["num_examples"]) == 40 + 48 and int(rows[1]["bytes_down"]) > 0 < int(rows[1]["bytes_up"])
    assert float(rows[1]["train_loss.client_1"]) > 0
    assert float(rows[-1]["test_acc"]) == pytest.approx(metrics["test"]["acc"], abs=1e-6)
    assert (tiny_repo / OUT / "model" / "config.json").is_file()
    kinds = [e.type for e in events(tiny_repo)]
    assert kinds[0] == "heartbeat" and "run_started" in kinds and kinds[-1] == "run_finished"
    assert kinds.count("round_completed") == 2 and kinds.count("client_update") == 8  # 2 clients x 2 stages x 2
    timing = json.loads((tiny_repo / OUT / "timing.json").read_text())
    assert timing["client_compute_seconds"] > 0 and timing["overhead"] >= 1.0


def test_same_params_give_identical_metrics_and_model(tiny_repo, tmp_path_factory):
    first = run(tiny_repo, strategy="fedadam", server_lr=0.01, fraction_train=0.5)
    model_bytes = (tiny_repo / OUT / "model" / "model.safetensors").read_bytes()
    other = tmp_path_factory.mktemp("again")
    from tests.fl.conftest import write_tiny_data
    write_tiny_data(other)
    second = run(other, strategy="fedadam", server_lr=0.01, fraction_train=0.5)
    assert first == second
    assert (other / OUT / "model" / "model.safetensors").read_bytes() == model_bytes
    assert (tiny_repo / OUT / "metrics.json").read_bytes() == (other / OUT / "metrics.json").read_bytes()


def test_a_failing_client_is_tolerated_and_recorded(tiny_repo, monkeypatch):
    monkeypatch.setenv("FEDFORGE_FAULTS", "client_1:train:2")
    before = {p.pid for p in psutil.Process().children(recursive=True)}  # other tests' stragglers are not ours
    metrics = run(tiny_repo, min_clients=1)
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert started == []  # the local engine starts no process
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("heartbeat-", "telemetry-"))]
    assert metrics["rounds"] == 2
    rows = rounds(tiny_repo)
    assert rows[0]["clients_failed"] == "" and rows[1]["clients_failed"] == "client_1"
    assert rows[1]["clients_ok"] == "client_0" and int(rows[1]["num_examples"]) == 40
    assert rows[1]["train_loss.client_1"] == ""
    failed = [e for e in events(tiny_repo) if e.type == "client_failed"]
    assert [(e.round, e.client, e.stage) for e in failed] == [(2, "client_1", "train")]
    assert "injected fault" in failed[0].error


def test_below_min_clients_fails_clearly_and_keeps_last_checkpoint(tiny_repo, monkeypatch):
    monkeypatch.setenv("FEDFORGE_FAULTS", "client_0:train:2")
    with pytest.raises(PhaseFailed, match=r"round 2: only 1 of 2 clients .*min_clients=2"):
        run(tiny_repo, min_clients=2)
    assert not (tiny_repo / OUT / "metrics.json").exists()
    finished = [e for e in events(tiny_repo) if e.type == "run_finished"]
    assert finished[-1].status == "failed" and finished[-1].rounds_completed == 1
    cfg = tiny_config(min_clients=2)
    ckpt = checkpoint.load(tiny_repo / "artifacts/checkpoints/T", checkpoint.fingerprint(cfg, "T", tiny_repo))
    assert ckpt is not None and ckpt.round == 1
