"""SecAgg+ (legacy-API apps, fl/secagg_app.py): the server sees masked vectors whose sum is the FedAvg update."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from flwr.app import Context, RecordDict

from fedforge import config, paths
from fedforge.fl import appconfig, secagg_app, task
from fedforge.fl.flower_compat import SUPERLINK_NODE_ID, set_task_identity
from fedforge.fl.grid import InProcessGrid
from tests.fl.conftest import tiny_raw, write_tiny_data

NUM = 3


class RecordingGrid(InProcessGrid):
    """InProcessGrid that keeps every reply the server receives."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.replies = []

    def send_and_receive(self, messages, *, timeout=None):
        replies = list(super().send_and_receive(messages, timeout=timeout))
        self.replies.extend(replies)
        return replies


def test_server_sees_masked_vectors_and_the_aggregate_is_fedavg(tmp_path):
    write_tiny_data(tmp_path, num_clients=NUM)
    raw = tiny_raw(rounds=1, min_clients=NUM)
    raw["partition"]["num_clients"] = NUM
    raw["model"].update(arch="cnn", norm="group")
    cfg = config.parse(raw)
    run_config = appconfig.app_config(cfg, "T", "local", repo_root=tmp_path)
    set_task_identity(1)
    nodes = [{"partition-id": i, "num-partitions": NUM} for i in range(NUM)]
    grid = RecordingGrid(secagg_app.client_app, nodes, run_config, run_id=1)
    secagg_app.server_app(grid, Context(run_id=1, node_id=SUPERLINK_NODE_ID, node_config={}, state=RecordDict(),
                                        run_config=dict(run_config)))

    # each hospital's real update, recomputed outside the protocol (training is seeded, so it is the same)
    initial = secagg_app.to_ndarrays(task.initial_model(cfg, cfg.phase("T"), tmp_path))
    updates, weights = [], []
    for pid in range(NUM):
        context = Context(run_id=1, node_id=pid + 1, node_config=nodes[pid], state=RecordDict(),
                          run_config=dict(run_config))
        arrays, num_examples, _ = secagg_app.Hospital(context).fit(initial, {"server_round": 1})
        updates.append(np.concatenate([a.ravel() for a in arrays]).astype(np.float64))
        weights.append(num_examples)
    fedavg = sum(w * u for w, u in zip(weights, updates)) / sum(weights)
    out = tmp_path / "artifacts/federated/T"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["secure_aggregation"] == "secaggplus" and metrics["rounds"] == 1
    from fedforge.models.factory import load_model

    aggregate = np.concatenate([a.ravel() for a in secagg_app.to_ndarrays(load_model(out / "model"))])
    assert np.abs(aggregate - fedavg).max() < 1e-4  # quantisation: 16 / 2**22 per unit, times the weights

    masked = [r for r in grid.replies if not r.has_error() and any(
        "masked_params" in rec for rec in r.content.config_records.values())]
    assert len(masked) == NUM
    quantisation_range = 4194304  # SecAggPlusWorkflow's default: an unmasked quantised entry is below it
    for reply in masked:
        blobs = [b for rec in reply.content.config_records.values() for k, v in rec.items() if k == "masked_params"
                 for b in v]
        seen = np.concatenate([np.load(io.BytesIO(blob), allow_pickle=False).ravel() for blob in blobs])[1:]
        # (entry 0 is the hospital's masked weight: Flower's factor_combine puts it first)
        assert seen.size == updates[0].size and seen.max() > 100 * quantisation_range  # masks spread it mod 2**32
        dequantised = seen.astype(np.float64) / (quantisation_range - 1) * 16 - 8
        assert all(np.abs(dequantised - u).mean() > 1.0 for u in updates)  # no hospital's update in the clear
        assert all(len(r) == 0 for r in reply.content.array_records.values())  # the plain arrays were dropped


@pytest.mark.parametrize("n", [3])
def test_workflow_tolerates_one_dropout(n):
    workflow = secagg_app.secaggplus_workflow(n, max_weight=1000.0)
    assert (workflow.num_shares, workflow.reconstruction_threshold) == (n, n - 1)


@pytest.mark.slow
def test_secaggplus_phase_runs_on_the_deployment_engine_with_three_supernodes(tmp_path):
    from fedforge.fl import deployment

    write_tiny_data(tmp_path, num_clients=NUM)
    raw = tiny_raw(rounds=2, min_clients=NUM)
    raw["partition"]["num_clients"] = NUM
    raw["model"].update(arch="cnn", norm="group")
    raw["federation"].update(engine="deployment", secure_aggregation="secaggplus")
    cfg = config.parse(raw)
    deployment.run_deployment(cfg, "T", appconfig.app_config(cfg, "T", "deployment", repo_root=tmp_path))
    metrics = json.loads((tmp_path / "artifacts/federated/T/metrics.json").read_text())
    assert metrics["secure_aggregation"] == "secaggplus" and metrics["engine"] == "deployment"
    log = (tmp_path / paths.deployment_dir("T") / "logs/serverapp.log").read_text()
    assert log.count("Secure aggregation completed.") == 2
