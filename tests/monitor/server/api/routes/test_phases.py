import json
import shutil
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fedforge.monitor.server.app import create_app

from ....conftest import AUTH, TOKEN, make_event, post_events

REPO_PARAMS = Path(__file__).resolve().parents[5] / "params.yaml"


@pytest.fixture
def repo(tmp_path):
    shutil.copy(REPO_PARAMS, tmp_path / "params.yaml")
    return tmp_path


def make_client(db_path, repo, command):
    return TestClient(create_app(db_path, token=TOKEN, repo_root=repo, phase_command=command))


def test_phases_from_params_with_latest_run(db_path, repo):
    with make_client(db_path, repo, ("true",)) as client:
        post_events(client, make_event("run_started", 0, run_id="a1", phase="A", ts=1.0))
        post_events(client, make_event("run_started", 0, run_id="a2", phase="A", ts=2.0))
        phases = {p["phase"]: p for p in client.get("/api/phases").json()}
    assert {"A", "B", "C"} <= set(phases)
    assert phases["A"]["dataset"] == "bloodmnist" and phases["A"]["rounds"] >= 1
    assert phases["A"]["latest_run_id"] == "a2" and phases["A"]["latest_state"] == "running"
    assert phases["B"]["latest_run_id"] is None and phases["B"]["launched"] is False


def test_phase_start_launches_in_repo_root_with_monitor_env(db_path, repo):
    probe = ("import os, sys; open('launched.txt', 'w').write(sys.argv[1] + ' ' + "
             "os.environ['FEDFORGE_MONITOR_TOKEN'])")
    with make_client(db_path, repo, (sys.executable, "-c", probe, "federate@{phase}")) as client:
        r = client.post("/api/phases/B/start", headers=AUTH)
        assert r.status_code == 200, r.text
        launch = r.json()
        assert launch["phase"] == "B" and launch["command"][-1] == "federate@B" and launch["pid"] > 0
        assert client.app.state.launcher.wait(30) == 0
    assert (repo / "launched.txt").read_text() == f"federate@B {TOKEN}"
    assert Path(launch["log_path"]).exists()


def test_phase_start_refused_while_one_runs(db_path, repo):
    with make_client(db_path, repo, (sys.executable, "-c", "import time; time.sleep(30)")) as client:
        assert client.post("/api/phases/A/start", headers=AUTH).status_code == 200
        try:
            assert {p["phase"]: p["launched"] for p in client.get("/api/phases").json()}["A"] is True
            r = client.post("/api/phases/B/start", headers=AUTH)
            assert r.status_code == 409 and "phase A is still running" in r.json()["detail"]
        finally:
            client.app.state.launcher.current.process.kill()
            client.app.state.launcher.wait(10)
        assert client.post("/api/phases/B/start", headers=AUTH).status_code == 200  # free again
        client.app.state.launcher.current.process.kill()
        client.app.state.launcher.wait(10)


def test_unknown_phase_404_names_the_phases(db_path, repo):
    with make_client(db_path, repo, ("true",)) as client:
        r = client.post("/api/phases/Z/start", headers=AUTH)
    assert r.status_code == 404 and "'A'" in r.json()["detail"]


def test_missing_params_is_503(client):
    r = client.get("/api/phases")
    assert r.status_code == 503 and "params.yaml" in r.json()["detail"]


def test_comparison_reads_every_metrics_file(client, tmp_path):
    def write(path: Path, data):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data))

    test = {"acc": 0.8, "auc": 0.9, "balanced_acc": 0.7, "loss": 0.5}
    write(tmp_path / "artifacts/federated/A/metrics.json",
          {"test": test, "val": test, "rounds": 5, "dataset": "bloodmnist", "strategy": "fedavg",
           "data_source": "synthetic", "engine": "local", "device": "cpu", "seconds": 12.0})
    write(tmp_path / "artifacts/centralized/bloodmnist/metrics.json",
          {"test": {**test, "extra": 1}, "val": test, "epochs": 3, "data_source": "synthetic"})
    write(tmp_path / "artifacts/federated/B/metrics.json", "{broken")
    out = client.get("/api/comparison").json()
    (fed,) = out["federated"]
    assert fed["name"] == "A" and fed["strategy"] == "fedavg" and fed["rounds"] == 5 and fed["test"] == test
    (cen,) = out["centralized"]
    assert cen["name"] == "bloodmnist" and cen["dataset"] == "bloodmnist" and cen["test"] == test
    assert cen["path"] == "artifacts/centralized/bloodmnist/metrics.json"


def test_comparison_empty(client):
    assert client.get("/api/comparison").json() == {"federated": [], "centralized": []}
