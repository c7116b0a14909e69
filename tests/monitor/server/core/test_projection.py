"""fold_events: the monitor's fold of a whole run, the reference the dashboard's TypeScript fold is checked against."""
import json
from pathlib import Path

import pytest

from fedforge.monitor.client.events import parse_event
from fedforge.monitor.server.core.db import Store
from fedforge.monitor.server.core.projection import fold_events

from ...conftest import make_event

FIXTURE = Path(__file__).resolve().parents[3] / "dashboard" / "fixtures" / "phase_a_events.jsonl"


def recorded_events() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]


def node_states(projection: dict) -> dict:
    return {n["node_id"]: n["state"] for n in projection["nodes"]}


def failed_round(status: str) -> list[dict]:
    """Round 1 with client_0 mid-evaluation and client_1 failed, then the run ends with `status`."""
    return [make_event("run_started", 0, ts=10.0), make_event("round_started", 1, ts=11.0),
            make_event("client_update", 2, ts=12.0, state="evaluating"),
            make_event("client_failed", 3, ts=13.0),
            make_event("run_finished", 4, ts=14.0, status=status, error="stopped" if status != "completed" else None)]


def test_the_store_serves_what_fold_events_computes(tmp_path):
    """Folding incrementally (the store, in batches) and at once (fold_events) give the same run."""
    events = recorded_events()
    store = Store(tmp_path / "monitor.db")
    try:
        for start in range(0, len(events), 7):
            store.ingest([parse_event(e) for e in events[start:start + 7]])
        run_id = events[0]["run_id"]
        served = {**store.run(run_id),
                  "rounds": [{k: v for k, v in r.items() if k != "run_id"} for r in store.rounds(run_id)],
                  "nodes": [{k: v for k, v in n.items() if k != "run_id"} for n in store.nodes(run_id)]}
    finally:
        store.close()
    assert fold_events(events) == served


def test_recorded_run_projection():
    projection = fold_events(recorded_events())
    summary = {k: projection[k] for k in ("run_id", "state", "current_round", "num_rounds", "metrics", "error")}
    assert summary == {"run_id": "A-recorded", "state": "completed", "current_round": 6, "num_rounds": 6,
                       "metrics": {"acc": 0.7963, "auc": 0.9463, "balanced_acc": 0.7463, "loss": 0.5289},
                       "error": None}
    assert [r["round"] for r in projection["rounds"]] == [1, 2, 3, 4, 5, 6]
    assert node_states(projection) == {"server": "idle", "client_0": "idle", "client_1": "idle", "client_2": "idle"}
    assert json.loads(json.dumps(projection)) == projection  # plain JSON data, nothing lost on the way


@pytest.mark.parametrize(("status", "server_state"), [("completed", "idle"), ("stopped", "idle"),
                                                      ("failed", "failed")])
def test_run_finished_leaves_no_node_at_work(status, server_state):
    """A client caught mid-work goes idle; a failed client keeps "failed"; the server fails with its run."""
    projection = fold_events(failed_round(status))
    assert projection["state"] == status
    assert node_states(projection) == {"server": server_state, "client_0": "idle", "client_1": "failed"}


def test_seq_order_and_duplicates_like_the_store():
    events = failed_round("completed")
    shuffled = [events[4], events[2], events[0], events[2], events[1], events[3]]
    assert fold_events(shuffled) == fold_events(events)


def test_one_run_at_a_time():
    with pytest.raises(ValueError, match=r"run ids \['run-1', 'run-2'\]"):
        fold_events([make_event("heartbeat", 0), make_event("heartbeat", 1, run_id="run-2")])
