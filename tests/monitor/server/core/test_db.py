import sqlite3

import pytest

from fedforge.monitor.client.events import parse_event
from fedforge.monitor.server.core.db import Store
from fedforge.monitor.server.core.runstate import InvalidTransition

from ...conftest import make_event


@pytest.fixture
def store(db_path):
    s = Store(db_path)
    yield s
    s.close()


def ev(*args, **kw):
    return parse_event(make_event(*args, **kw))


def test_wal_mode_and_tables(store, db_path):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"runs", "nodes", "rounds", "events", "control_actions"} <= set(store.db.table_names())


def test_ingest_is_idempotent_on_run_and_seq(store):
    batch = [ev("run_started", 0), ev("round_started", 1)]
    stored, dups = store.ingest(batch)
    assert [s[:2] for s in stored] == [("run-1", 0), ("run-1", 1)] and dups == 0
    stored, dups = store.ingest(batch + [ev("heartbeat", 2)])
    assert [s[:2] for s in stored] == [("run-1", 2)] and dups == 2
    assert store.db["events"].count == 3
    # the same seq in another run is a different event
    stored, dups = store.ingest([ev("run_started", 0, run_id="run-2")])
    assert len(stored) == 1 and dups == 0


def test_duplicate_does_not_change_projections(store):
    store.ingest([ev("run_started", 0), ev("client_failed", 1)])
    store.ingest([ev("client_failed", 1)])
    node = {n["node_id"]: n for n in store.nodes("run-1")}["client_1"]
    assert node["failures"] == 1 and node["state"] == "failed" and node["last_error"] == "boom"


def test_projection_of_a_whole_round(store):
    store.ingest([ev("run_started", 0), ev("round_started", 1),
                  ev("client_update", 2), ev("client_failed", 3), ev("round_completed", 4)])
    run = store.run("run-1")
    assert run["state"] == "running" and run["current_round"] == 1 and run["metrics"]["acc"] == 0.5
    (row,) = store.rounds("run-1")
    assert row["client_train_loss"] == {"client_0": 1.5} and row["clients_failed"] == ["client_1"]
    nodes = {n["node_id"]: n for n in store.nodes("run-1")}
    assert set(nodes) == {"server", "client_0", "client_1"}
    assert nodes["client_0"]["partition_size"] == 40 and nodes["client_0"]["label_histogram"] == [20, 20]
    assert nodes["client_0"]["history"][0]["train_loss"] == 1.5
    assert nodes["client_1"]["history"][0]["ok"] is False
    store.ingest([ev("run_finished", 5)])
    assert store.run("run-1")["state"] == "completed" and store.run("run-1")["finished_at"] is not None


def test_events_before_run_started_create_the_run(store):
    store.ingest([ev("heartbeat", 7, node="client_0", state="training")])
    assert store.run("run-1")["state"] == "running"
    assert {n["node_id"]: n["state"] for n in store.nodes("run-1")}["client_0"] == "training"


def test_new_run_of_a_phase_supersedes_a_dead_one(store):
    store.ingest([ev("run_started", 0, run_id="old")])
    store.ingest([ev("run_started", 0, run_id="new")])
    assert store.run("old")["state"] == "stopped" and store.run("new")["state"] == "running"


def test_an_older_run_arriving_late_never_stops_a_newer_one(store):
    # e.g. `fedforge monitor import` of an old recording while a newer run of the phase streams live
    store.ingest([ev("run_started", 0, run_id="new", ts=200.0)])
    store.ingest([ev("run_started", 0, run_id="old", ts=100.0), ev("round_started", 1, run_id="old", ts=101.0)])
    assert store.run("new")["state"] == "running" and store.run("old")["state"] == "stopped"
    store.ingest([ev("run_finished", 2, run_id="old", ts=102.0)])  # its own end still counts
    assert store.run("old")["state"] == "completed"


def test_events_since_in_seq_order(store):
    store.ingest([ev("heartbeat", s) for s in (4, 2, 0, 3, 1)])
    assert [s for s, _ in store.events_since("run-1", 1)] == [2, 3, 4]
    assert [s for s, _ in store.events_since("run-1", -1, limit=2)] == [0, 1]


def test_control_audits_accepted_and_refused(store):
    store.ingest([ev("run_started", 0)])
    assert store.control("run-1", "pause", "me", 1.0) == ("running", "paused")
    with pytest.raises(InvalidTransition):
        store.control("run-1", "pause", "me", 2.0)
    with pytest.raises(KeyError):
        store.control("nope", "pause", "me", 3.0)
    audit = store.audit("run-1")
    assert [(a["action"], a["accepted"], a["state"]) for a in audit] == [("pause", True, "paused"),
                                                                         ("pause", False, "paused")]


def test_control_side_effect_failure_keeps_state(store):
    store.ingest([ev("run_started", 0), ev("run_finished", 1, status="failed")])

    def boom(run):
        raise OSError("no dvc")

    with pytest.raises(OSError):
        store.control("run-1", "start", "me", 1.0, on_accept=boom)
    assert store.run("run-1")["state"] == "failed"
    assert store.audit("run-1")[-1]["accepted"] is False


def test_data_survives_reopen(db_path):
    s = Store(db_path)
    s.ingest([ev("run_started", 0)])
    s.close()
    s = Store(db_path)
    assert s.run("run-1")["dataset"] == "bloodmnist"
    s.close()
    assert sqlite3.connect(db_path).execute("select count(*) from events").fetchone() == (1,)
