"""A tiny federated phase (local engine, subprocess) against a live monitor started on a free port:
pause holds it (no round starts while paused), resume continues, stop ends it with a checkpoint and a
non-zero exit; every event of events.jsonl reaches the monitor exactly once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from fedforge import paths

from .conftest import AUTH, TOKEN

fl_conftest = pytest.importorskip("tests.fl.conftest")
pytest.importorskip("fedforge.fl.engine")

ROUNDS = 40  # far more than the test lets run: the stop, not the round count, must end the phase


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def events(url, run_id):
    return httpx.get(f"{url}/api/runs/{run_id}/events", params={"limit": 10000}).json()


def count(evs, kind):
    return sum(e["type"] == kind for e in evs)


def held_events(url, run_id):
    """The run's events once the round in flight has completed (server waiting on the pause), else None."""
    evs = events(url, run_id)
    done = count(evs, "round_completed")
    return evs if done >= 1 and done == count(evs, "round_started") else None


def wait_for_hold(url, run_id, timeout=120):
    """Events once the run holds: no round in flight, and still so 1.5 s later (telemetry is batched, so a
    round that started just before the pause took effect would show up within that time)."""
    def steady():
        first = held_events(url, run_id)
        time.sleep(1.5)
        second = held_events(url, run_id)
        return second if first and second and count(first, "round_started") == count(second, "round_started") else None
    return wait_for(steady, timeout, "the run to hold (no round in flight)")


def finished_events(url, run_id):
    evs = events(url, run_id)
    return evs if count(evs, "run_finished") else None


def find_run(url):
    runs = [r for r in httpx.get(f"{url}/api/runs").json() if r["phase"] == "T"]
    return runs[0]["run_id"] if runs else None


def control(url, run_id, action):
    r = httpx.post(f"{url}/api/runs/{run_id}/control/{action}", headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def start_phase(tmp_path, url: str, rounds: int) -> tuple[subprocess.Popen, object]:
    """`fedforge federate --phase T` in a tiny repo, reporting to the monitor at `url`."""
    repo = tmp_path / "repo"
    fl_conftest.write_tiny_data(repo)
    (repo / "params.yaml").write_text(yaml.safe_dump(fl_conftest.tiny_raw(rounds=rounds)))
    env = {**os.environ, "FEDFORGE_MONITOR_URL": url, "FEDFORGE_MONITOR_TOKEN": TOKEN,
           "FLWR_HOME": str(tmp_path / "flwr"), "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "FEDFORGE_FAULTS": ""}
    with open(tmp_path / "phase.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "fedforge.cli", "federate", "--phase", "T"], cwd=repo,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, repo


def replay_log(repo) -> list[dict]:
    path = repo / paths.federated_dir("T") / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_pause_resume_stop_a_live_phase(tmp_path, live_monitor):
    url = live_monitor.url
    proc, repo = start_phase(tmp_path, url, ROUNDS)
    try:
        run_id = wait_for(lambda: find_run(url), 180, "run_started at the monitor")
        assert control(url, run_id, "pause") == {"run_id": run_id, "previous": "running", "state": "paused"}

        # The server finishes the round in flight, then holds before the next one.
        held = wait_for_hold(url, run_id)
        rounds_before = count(held, "round_started")
        time.sleep(3.0)  # six control polls
        during = events(url, run_id)
        assert count(during, "round_started") == rounds_before, "a round started while paused"
        assert proc.poll() is None and httpx.get(f"{url}/api/runs/{run_id}/state").json()["state"] == "paused"
        assert count(during, "heartbeat") >= count(held, "heartbeat")  # alive and reporting while held

        assert control(url, run_id, "resume")["state"] == "running"
        wait_for(lambda: count(events(url, run_id), "round_started") > rounds_before, 120, "a round after resume")

        assert control(url, run_id, "stop")["state"] == "stopped"
        code = proc.wait(180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    phase_log = (tmp_path / "phase.log").read_text(errors="replace")
    assert code != 0, phase_log[-3000:]  # DVC must not cache a stopped phase

    final = wait_for(lambda: finished_events(url, run_id), 30, "run_finished at the monitor")
    finished = next(e for e in final if e["type"] == "run_finished")
    assert finished["status"] == "stopped" and 1 <= finished["rounds_completed"] < ROUNDS
    assert httpx.get(f"{url}/api/runs/{run_id}/state").json()["state"] == "stopped"
    ckpt = repo / paths.checkpoint_dir("T")
    assert ckpt.is_dir() and any(ckpt.iterdir()), "stop must leave a checkpoint to resume from"
    assert not (repo / paths.federated_dir("T") / "metrics.json").exists()

    # Exactly once: the monitor holds the same seqs as the replay log, each once.
    lines = (repo / paths.federated_dir("T") / "events.jsonl").read_text().splitlines()
    assert [e["seq"] for e in final] == list(range(len(lines)))
    detail = httpx.get(f"{url}/api/runs/{run_id}").json()
    assert detail["current_round"] == finished["rounds_completed"]
    assert {n["node_id"] for n in detail["nodes"]} == {"server", "client_0", "client_1"}
    audit = httpx.get(f"{url}/api/runs/{run_id}/audit").json()
    assert [(a["action"], a["accepted"]) for a in audit] == [("pause", True), ("resume", True), ("stop", True)]


@pytest.mark.slow
def test_monitor_outage_during_a_live_phase(tmp_path, live_monitor):
    """Stop the monitor for several rounds of a running phase, start it again: every event arrives once."""
    url = live_monitor.url
    proc, repo = start_phase(tmp_path, url, rounds=5)
    try:
        run_id = wait_for(lambda: find_run(url), 180, "run_started at the monitor")
        control(url, run_id, "pause")  # hold the run at round 1, so the outage surely spans several rounds
        wait_for_hold(url, run_id)
        live_monitor.stop()  # the paused run sees an unreachable monitor as "running" and goes on
        wait_for(lambda: count(replay_log(repo), "round_completed") >= 3, 180, "two rounds during the outage")
        assert count(events_at_rest(live_monitor), "round_completed") <= 1
        live_monitor.start()
        # The monitor remembers the pause: once it is back the run holds again at its next round, so resume.
        if httpx.get(f"{url}/api/runs/{run_id}/state").json()["state"] == "paused":
            control(url, run_id, "resume")
        code = proc.wait(300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert code == 0, (tmp_path / "phase.log").read_text(errors="replace")[-3000:]  # the outage did not hurt the run
    lines = replay_log(repo)
    assert lines[-1]["type"] == "run_finished" and lines[-1]["status"] == "completed"
    stored = wait_for(lambda: all_events(url, run_id, len(lines)), 30, "the spooled events to arrive")
    assert [e["seq"] for e in stored] == [e["seq"] for e in lines] == list(range(len(lines)))
    assert [e["type"] for e in stored] == [e["type"] for e in lines]
    run = httpx.get(f"{url}/api/runs/{run_id}").json()
    assert run["state"] == "completed" and run["current_round"] == 5 and len(run["rounds"]) == 5
    assert httpx.get(f"{url}/api/runs/{run_id}/audit").json()[0]["action"] == "pause"


def all_events(url, run_id, n):
    evs = events(url, run_id)
    return evs if len(evs) >= n else None


def events_at_rest(monitor) -> list[dict]:
    """Events in the stopped monitor's database (read directly: nothing is serving it)."""
    from fedforge.monitor.server.core.db import Store
    store = Store(monitor.db_path)
    try:
        return [json.loads(body) for run in store.runs() for _, body in store.events_since(run["run_id"])]
    finally:
        store.close()
