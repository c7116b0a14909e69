"""Node liveness of finished runs: measured at the run's end, so an old (or imported) run is not "all lost"."""
import time

from fedforge.monitor.server.core.settings import LOST_AFTER_S, STALE_AFTER_S

from ..conftest import make_event, post_events


def node_liveness(client, run_id="run-1") -> dict:
    return {n["node_id"]: n["liveness"] for n in client.get(f"/api/runs/{run_id}").json()["nodes"]}


def finished_long_ago(client, status="completed", run_id="run-1"):
    """A run that ended a day ago: client_1 went quiet well before the end, client_0 took part to the end."""
    end = time.time() - 86_400
    post_events(client, make_event("run_started", 0, run_id=run_id, ts=end - 600),
                make_event("heartbeat", 1, run_id=run_id, node="client_1", ts=end - LOST_AFTER_S - 5),
                make_event("client_update", 2, run_id=run_id, client="client_0", ts=end - 1),
                make_event("run_finished", 3, run_id=run_id, status=status, ts=end))


def test_finished_run_nodes_are_judged_at_its_end(client):
    finished_long_ago(client)
    assert node_liveness(client) == {"server": "online", "client_0": "online", "client_1": "lost"}


def test_failed_and_stopped_runs_too(client):
    finished_long_ago(client, status="failed", run_id="run-f")
    finished_long_ago(client, status="stopped", run_id="run-s")
    assert node_liveness(client, "run-f")["client_0"] == node_liveness(client, "run-s")["client_0"] == "online"


def test_run_stopped_from_the_monitor_without_run_finished_uses_its_last_event(client):
    quiet = time.time() - 3_600
    post_events(client, make_event("run_started", 0, ts=quiet - STALE_AFTER_S - 5),
                make_event("heartbeat", 1, node="client_0", ts=quiet))
    assert client.post("/api/runs/run-1/control/stop", headers={"authorization": "Bearer test-token"}).status_code == 200
    assert node_liveness(client) == {"server": "online", "client_0": "online", "client_1": "stale"}


def test_running_run_still_ages_by_the_clock(client):
    old = time.time() - 3_600
    post_events(client, make_event("run_started", 0, ts=old))
    assert set(node_liveness(client).values()) == {"lost"}
