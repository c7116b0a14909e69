import itertools
import sys

import pytest

from fedforge.monitor.server.core.runstate import RUN_STATES, TRANSITIONS

from ....conftest import AUTH, make_event, post_events

VALID = {("pause", "running"): "paused", ("resume", "paused"): "running", ("stop", "running"): "stopped",
         ("stop", "paused"): "stopped", ("start", "stopped"): "running", ("start", "failed"): "running"}


def put_run_in(client, state: str) -> None:
    """Drive run-1 into `state` the way it happens for real: telemetry and control."""
    post_events(client, make_event("run_started", 0))
    if state == "paused":
        assert client.post("/api/runs/run-1/control/pause", headers=AUTH).status_code == 200
    elif state in ("stopped", "completed", "failed"):
        post_events(client, make_event("run_finished", 1, status=state))
    assert client.get("/api/runs/run-1/state").json()["state"] == state


@pytest.fixture
def app(db_path, tmp_path):
    from fedforge.monitor.server.app import create_app
    # `start` relaunches the phase: a harmless stand-in for `dvc repro` that runs until the test kills it
    # (a launch that ends without a new run puts the run back to its previous state)
    return create_app(db_path, token="test-token", repo_root=tmp_path,
                      phase_command=(sys.executable, "-c", "import time; time.sleep(60)", "{phase}"))


@pytest.mark.parametrize("action,state", list(itertools.product(TRANSITIONS, RUN_STATES)))
def test_transition(client, app, action, state):
    put_run_in(client, state)
    r = client.post(f"/api/runs/run-1/control/{action}", headers={**AUTH, "user-agent": "pytest-agent"})
    audit = client.get("/api/runs/run-1/audit").json()[-1]
    assert audit["action"] == action and audit["previous"] == state and "pytest-agent" in audit["origin"]
    if (action, state) in VALID:
        assert r.status_code == 200, r.text
        assert r.json() == {"run_id": "run-1", "previous": state, "state": VALID[(action, state)]}
        assert client.get("/api/runs/run-1/state").json()["state"] == VALID[(action, state)]
        assert audit["accepted"] is True and audit["state"] == VALID[(action, state)]
    else:
        assert r.status_code == 409
        assert f"it is {state}" in r.json()["detail"]
        assert client.get("/api/runs/run-1/state").json()["state"] == state
        assert audit["accepted"] is False
    if action == "start" and r.status_code == 200:
        assert app.state.launcher.current.command[-1] == "A"
        app.state.launcher.current.process.kill()
        app.state.launcher.wait(timeout=30)


def test_unknown_action_and_run(client, started_run):
    assert client.post("/api/runs/run-1/control/explode", headers=AUTH).status_code == 422
    assert client.post("/api/runs/nope/control/pause", headers=AUTH).status_code == 404
    assert client.get("/api/runs/nope/audit").status_code == 404


def test_start_refused_while_a_phase_runs(db_path, tmp_path):
    from fastapi.testclient import TestClient

    from fedforge.monitor.server.app import create_app
    app = create_app(db_path, token="test-token", repo_root=tmp_path,
                     phase_command=(sys.executable, "-c", "import time; time.sleep(30)"))
    with TestClient(app) as client:
        for run_id in ("r1", "r2"):
            post_events(client, make_event("run_started", 0, run_id=run_id, phase=run_id))
            post_events(client, make_event("run_finished", 1, run_id=run_id, phase=run_id, status="stopped"))
        assert client.post("/api/runs/r1/control/start", headers=AUTH).status_code == 200
        try:
            r = client.post("/api/runs/r2/control/start", headers=AUTH)
            assert r.status_code == 409 and "phase r1 is still running" in r.json()["detail"]
            assert client.get("/api/runs/r2/state").json()["state"] == "stopped"
        finally:
            app.state.launcher.current.process.kill()
            app.state.launcher.wait(10)


def test_start_with_a_missing_command_is_503_and_keeps_state(db_path, tmp_path):
    from fastapi.testclient import TestClient

    from fedforge.monitor.server.app import create_app
    app = create_app(db_path, token="test-token", repo_root=tmp_path, phase_command=("/nonexistent/dvc", "repro"))
    with TestClient(app) as client:
        post_events(client, make_event("run_started", 0), make_event("run_finished", 1, status="stopped"))
        r = client.post("/api/runs/run-1/control/start", headers=AUTH)
        assert r.status_code == 503 and "could not launch" in r.json()["detail"]
        assert client.get("/api/runs/run-1/state").json()["state"] == "stopped"


def test_failed_relaunch_returns_the_run_to_its_previous_state(db_path, tmp_path):
    import time

    from fastapi.testclient import TestClient

    from fedforge.monitor.server.app import create_app
    app = create_app(db_path, token="test-token", repo_root=tmp_path,
                     phase_command=(sys.executable, "-c", "import sys; sys.exit(3)"))
    with TestClient(app) as client:
        post_events(client, make_event("run_started", 0), make_event("run_finished", 1, status="failed"))
        assert client.post("/api/runs/run-1/control/start", headers=AUTH).json()["state"] == "running"
        assert app.state.launcher.wait(30) == 3
        deadline = time.monotonic() + 10
        while client.get("/api/runs/run-1/state").json()["state"] != "failed":
            assert time.monotonic() < deadline, "the run kept claiming to run after its relaunch died"
            time.sleep(0.05)


def test_relaunch_superseded_by_a_new_run_stays_stopped(client, app):
    post_events(client, make_event("run_started", 0), make_event("run_finished", 1, status="stopped"))
    assert client.post("/api/runs/run-1/control/start", headers=AUTH).status_code == 200
    post_events(client, make_event("run_started", 0, run_id="run-2"))  # the relaunched phase's new run
    assert client.get("/api/runs/run-1/state").json()["state"] == "stopped"
    app.state.launcher.current.process.kill()
    app.state.launcher.wait(30)
    assert not app.state.store.settle_relaunch("run-1", "stopped")
    assert client.get("/api/runs/run-2/state").json()["state"] == "running"
