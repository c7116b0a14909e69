import time

from fedforge.monitor.server.api.routes.runs import liveness
from fedforge.monitor.server.core.settings import LOST_AFTER_S, STALE_AFTER_S

from ....conftest import make_event, post_events


def test_runs_list_and_detail(client):
    assert client.get("/api/runs").json() == []
    post_events(client, make_event("run_started", 0), make_event("round_started", 1), make_event("client_update", 2),
                make_event("client_failed", 3), make_event("round_completed", 4))
    (run,) = client.get("/api/runs").json()
    assert run["run_id"] == "run-1" and run["phase"] == "A" and run["state"] == "running"
    assert run["data_source"] == "synthetic" and run["current_round"] == 1 and run["num_rounds"] == 3
    assert run["metrics"] == {"acc": 0.5, "auc": 0.6, "balanced_acc": 0.4, "loss": 1.2}
    detail = client.get("/api/runs/run-1").json()
    (row,) = detail["rounds"]
    assert row["round"] == 1 and row["acc"] == 0.5 and row["client_train_loss"] == {"client_0": 1.5}
    nodes = {n["node_id"]: n for n in detail["nodes"]}
    assert nodes["server"]["kind"] == "server" and nodes["client_1"]["state"] == "failed"
    assert nodes["client_1"]["failures"] == 1 and nodes["client_1"]["last_error"] == "boom"
    assert nodes["client_0"]["liveness"] == "online" and nodes["client_0"]["partition_size"] == 40


def test_runs_newest_first(client):
    post_events(client, make_event("run_started", 0, run_id="old", phase="A", ts=100.0))
    post_events(client, make_event("run_started", 0, run_id="new", phase="B", ts=200.0))
    assert [r["run_id"] for r in client.get("/api/runs").json()] == ["new", "old"]


def test_node_liveness_by_heartbeat_age(client):
    now = time.time()
    post_events(client, make_event("run_started", 0, ts=now),
                make_event("heartbeat", 1, node="client_0", state="training", ts=now - STALE_AFTER_S - 1),
                make_event("heartbeat", 2, node="client_1", state="idle", ts=now - LOST_AFTER_S - 1))
    # run_started saw every client at `now`; the older heartbeats must not move last_seen backwards
    nodes = {n["node_id"]: n for n in client.get("/api/runs/run-1").json()["nodes"]}
    assert nodes["client_0"]["liveness"] == "online" and nodes["client_0"]["state"] == "training"


def test_liveness_thresholds():
    from fedforge.monitor.server.core.settings import Settings
    s = Settings(db_path=None, token="t")
    assert liveness(100.0, 100.0 + STALE_AFTER_S - 0.1, s) == "online"
    assert liveness(100.0, 100.0 + STALE_AFTER_S + 0.1, s) == "stale"
    assert liveness(100.0, 100.0 + LOST_AFTER_S + 0.1, s) == "lost"
    assert liveness(None, 100.0, s) == "lost"


def test_state_endpoint(client, started_run):
    assert client.get(f"/api/runs/{started_run}/state").json() == {"run_id": "run-1", "state": "running"}
    assert client.get("/api/runs/nope/state").status_code == 404
    assert client.get("/api/runs/nope").status_code == 404


def test_finished_run(client, started_run):
    post_events(client, make_event("run_finished", 1, status="failed", error="OOM", metrics={}))
    run = client.get("/api/runs/run-1").json()
    assert run["state"] == "failed" and run["error"] == "OOM" and run["finished_at"] is not None
