"""The telemetry client: events.jsonl always, batching, spool while the monitor is away, exactly-once by seq."""
import json
import time

import httpx
import pydantic
import pytest

from fedforge.monitor.client import telemetry as tm
from fedforge.monitor.client.telemetry import Telemetry

from ..conftest import TOKEN, free_port


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def stored_seqs(url, run_id="run-1"):
    r = httpx.get(f"{url}/api/runs/{run_id}/events?limit=10000")
    return [] if r.status_code == 404 else [e["seq"] for e in r.json()]


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_without_url_only_events_jsonl(tmp_path, monkeypatch):
    monkeypatch.delenv(tm.URL_ENV, raising=False)
    t = Telemetry("run-1", "A", tmp_path / "events.jsonl", url=None)
    e = t.emit("round_started", round=1, clients=["client_0"])
    t.emit("heartbeat", node="server")
    t.close()
    assert e.seq == 0 and e.run_id == "run-1" and e.phase == "A" and e.ts > 0
    assert [(d["seq"], d["type"]) for d in lines(tmp_path / "events.jsonl")] == [(0, "round_started"),
                                                                                  (1, "heartbeat")]
    assert t._thread is None


def test_emit_after_close_is_harmless(tmp_path):
    t = Telemetry("run-1", "A", tmp_path / "events.jsonl", url=None)
    t.emit("heartbeat", node="server")
    t.close()
    t.emit("heartbeat", node="server")  # e.g. a heartbeat thread racing the end of the run
    assert len(lines(tmp_path / "events.jsonl")) == 1


def test_invalid_event_raises_and_is_not_written(tmp_path):
    t = Telemetry("run-1", "A", tmp_path / "events.jsonl", url=None)
    with pytest.raises(pydantic.ValidationError, match="round"):
        t.emit("round_started", round=0, clients=[])
    assert t.emit("heartbeat", node="server").seq == 0  # the bad one used no seq
    t.close()


def test_env_url_overrides_params(monkeypatch):
    monkeypatch.setenv(tm.URL_ENV, "http://127.0.0.1:9/")
    assert tm.resolve_url("http://elsewhere") == "http://127.0.0.1:9"
    monkeypatch.setenv(tm.URL_ENV, "")
    assert tm.resolve_url("http://elsewhere") is None
    monkeypatch.delenv(tm.URL_ENV)
    assert tm.resolve_url("") is None


def test_batches_respect_count_and_size():
    small = ['{"x":1}'] * 1200
    assert [len(b) for b in tm._chunks(small)] == [500, 500, 200]
    big = ["x" * 100_000] * 5
    assert [len(b) for b in tm._chunks(big)] == [2, 2, 1]


def test_emit_never_waits_for_an_unreachable_monitor(tmp_path):
    t = Telemetry("run-1", "A", tmp_path / "events.jsonl", url=f"http://127.0.0.1:{free_port()}", token=TOKEN)
    start = time.perf_counter()
    for i in range(200):
        t.emit("heartbeat", node="server")
    emit_seconds = time.perf_counter() - start
    t.close(timeout=5)
    spooled = lines(tmp_path / "events.spool.jsonl")
    assert [e["seq"] for e in spooled] == list(range(200))
    assert emit_seconds < 5.0  # generous: a blocking POST would take >= 1 s connect timeout per event


def test_spool_left_by_a_dead_process_is_resent(tmp_path, live_monitor):
    dead = Telemetry("run-1", "A", tmp_path / "events.jsonl", url=f"http://127.0.0.1:{free_port()}", token=TOKEN)
    for _ in range(5):
        dead.emit("heartbeat", node="server")
    dead.close(timeout=3)
    assert (tmp_path / "events.spool.jsonl").exists()
    t = Telemetry("run-2", "A", tmp_path / "events.jsonl", url=live_monitor.url, token=TOKEN)
    t.emit("heartbeat", node="server")
    t.close(timeout=10)
    assert stored_seqs(live_monitor.url, "run-1") == [0, 1, 2, 3, 4]
    assert stored_seqs(live_monitor.url, "run-2") == [0]
    assert not (tmp_path / "events.spool.jsonl").exists()


def test_wrong_token_spools_instead_of_losing(tmp_path, live_monitor):
    t = Telemetry("run-1", "A", tmp_path / "events.jsonl", url=live_monitor.url, token="wrong")
    t.emit("heartbeat", node="server")
    t.close(timeout=3)
    assert httpx.get(f"{live_monitor.url}/api/runs").json() == []
    assert [e["seq"] for e in lines(tmp_path / "events.spool.jsonl")] == [0]


def test_monitor_outage_every_event_exactly_once(tmp_path, live_monitor):
    """Emit, stop the monitor, emit through the outage, restart it: every seq arrives, once, in order."""
    t = Telemetry("run-1", "A", tmp_path / "events.jsonl", url=live_monitor.url, token=TOKEN)
    t.emit("run_started", dataset="bloodmnist", data_source="synthetic", strategy="fedavg", num_rounds=3,
           engine="local", clients=["client_0"])
    for _ in range(20):
        t.emit("heartbeat", node="server")
    wait_for(lambda: len(stored_seqs(live_monitor.url)) == 21)

    live_monitor.stop()
    for rnd in (1, 2):  # "several rounds" while the monitor is away
        t.emit("round_started", round=rnd, clients=["client_0"])
        for _ in range(30):
            t.emit("heartbeat", node="client_0", state="training")
        t.emit("round_completed", round=rnd, metrics={"acc": 0.5}, seconds=1.0)
    wait_for(lambda: t.spool_path.exists())

    live_monitor.start()
    for _ in range(10):
        t.emit("heartbeat", node="server")
    t.close(timeout=20)

    total = 21 + 2 * 32 + 10
    seqs = stored_seqs(live_monitor.url)
    assert seqs == list(range(total))  # exactly once each, none missing
    assert [e["seq"] for e in lines(tmp_path / "events.jsonl")] == list(range(total))
    assert not t.spool_path.exists()
    assert t.sent >= total
    run = httpx.get(f"{live_monitor.url}/api/runs/run-1").json()
    assert run["current_round"] == 2 and len(run["rounds"]) == 2
    # stored in arrival order = seq order: the re-send kept the order (rowid follows insertion)
    rowid_order = [s for (s,) in live_monitor.app.state.store.db.execute(
        "SELECT seq FROM events WHERE run_id = ? ORDER BY rowid", ["run-1"]).fetchall()]
    assert rowid_order == list(range(total))
