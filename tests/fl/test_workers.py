"""The local engine's worker processes: hospitals keep one worker and its Context, a dead or hung worker becomes
one failed hospital for that message, and no worker outlives the stage, even a SIGKILLed one.

Byte-identity of a phase's outputs for workers 1 and 2 is tests/fl/test_determinism.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedforge.fl import workers
from fedforge.fl.flower_compat import ErrorCode, set_task_identity
from fedforge.fl.grid import InProcessGrid, node_id_for
from tests.fl.conftest import tiny_raw
from tests.fl.test_simulation import alive, gone_within

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Counts its calls in Context.state and reports its process; `action` makes it die or hang."""
    action = str(msg.content["config"]["action"])
    if action == "die":
        os._exit(3)
    if action == "hang":
        time.sleep(60)
    calls = context.state.config_records.get("calls", ConfigRecord({"n": 0}))
    calls["n"] = int(calls["n"]) + 1
    context.state["calls"] = calls
    arrays = msg.content["arrays"]
    arrays["w"] = Array(arrays["w"].numpy() + 1)
    return Message(RecordDict({"arrays": arrays, "metrics": MetricRecord({"n": calls["n"], "pid": os.getpid()})}),
                   reply_to=msg)


def make_grid(hospitals: int, num_workers: int, timeout: float = 60.0) -> InProcessGrid:
    set_task_identity(run_id=1, node_id=0)
    nodes = [{"partition-id": i, "num-partitions": hospitals} for i in range(hospitals)]
    return InProcessGrid(app, nodes, {"phase": "T"}, workers=num_workers, sizes=[10] * hospitals, timeout=timeout)


def exchange(grid: InProcessGrid, actions: dict[int, str] | None = None) -> dict[int, Message]:
    """One train message to every node (action "ok" unless `actions` names it); replies by partition id."""
    arrays = ArrayRecord({"w": Array(np.zeros(3, dtype=np.float32))})
    messages = [Message(RecordDict({"arrays": arrays, "config": ConfigRecord(
        {"server-round": 1, "action": (actions or {}).get(node - node_id_for(0), "ok")})}), node, "train")
        for node in grid.get_node_ids()]
    return {r.metadata.src_node_id - node_id_for(0): r for r in grid.send_and_receive(messages)}


def test_assign_balances_the_largest_first():
    assert workers.assign([3259, 2955, 5745], 2) == [1, 1, 0]
    assert workers.assign([5, 5, 5, 5], 2) == [0, 1, 0, 1]
    assert workers.assign([1, 2, 3], 1) == [0, 0, 0]


def test_resolve_workers_never_exceeds_hospitals_or_cores():
    cores = len(os.sched_getaffinity(0))
    assert workers.resolve_workers("auto", 100) == cores
    assert workers.resolve_workers("auto", 1) == 1
    assert workers.resolve_workers(8, 3) == 3
    assert workers.resolve_workers(1, 3) == 1


def test_each_hospital_keeps_its_worker_and_its_context():
    grid = make_grid(hospitals=3, num_workers=2)
    try:
        first, second = exchange(grid), exchange(grid)
    finally:
        grid.close()
    assert [second[h].content["metrics"]["n"] for h in range(3)] == [2, 2, 2]  # Context.state persisted
    assert [second[h].content["metrics"]["pid"] for h in range(3)] == [first[h].content["metrics"]["pid"]
                                                                        for h in range(3)]
    assert len({first[h].content["metrics"]["pid"] for h in range(3)} | {os.getpid()}) == 3  # 2 workers + us
    np.testing.assert_array_equal(second[0].content["arrays"]["w"].numpy(), np.ones(3))


def test_a_dead_worker_fails_one_message_and_is_replaced():
    grid = make_grid(hospitals=3, num_workers=2)
    try:
        replies = exchange(grid, {0: "die"})  # equal sizes: hospitals 0 and 2 share worker 0, 1 has worker 1
        after = exchange(grid)
    finally:
        grid.close()
    assert replies[0].has_error() and replies[0].error.code == ErrorCode.CLIENT_APP_CRASHED
    assert "worker process died (exit code 3)" in replies[0].error.reason
    assert [replies[h].content["metrics"]["n"] for h in (1, 2)] == [1, 1]  # 2 was queued behind 0: resent
    assert [after[h].content["metrics"]["n"] for h in range(3)] == [1, 2, 2]  # 0 and 2: a new worker's Contexts


def test_a_hospital_past_the_timeout_fails_alone():
    grid = make_grid(hospitals=2, num_workers=2, timeout=2.0)
    try:
        started = time.monotonic()
        replies = exchange(grid, {1: "hang"})
        waited = time.monotonic() - started
        after = exchange(grid)
    finally:
        grid.close()
    assert replies[1].has_error() and replies[1].error.code == ErrorCode.REPLY_MESSAGE_UNAVAILABLE
    assert "no reply within 2s" in replies[1].error.reason
    assert not replies[0].has_error() and waited < 30  # bounded by the timeout, not by the 60 s hang
    assert [after[h].content["metrics"]["n"] for h in range(2)] == [2, 1]


def test_close_stops_every_worker():
    grid = make_grid(hospitals=2, num_workers=2)
    processes = [psutil.Process(p.pid) for p in grid.pool.processes]
    grid.close()
    assert alive(processes) == []


STAGE = """
import json, sys
from pathlib import Path
from fedforge import config
from fedforge.fl import appconfig, engine
cfg = config.parse(json.loads(sys.argv[2]))
engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=Path(sys.argv[1])))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_stage_killed_mid_round_leaves_no_worker(tiny_repo, monkeypatch, sig):
    monkeypatch.setenv("FEDFORGE_FAULTS", "client_0:train:1:hang")  # round 1 stays open until we kill the stage
    raw = tiny_raw()
    raw["federation"]["workers"] = 2
    stage = subprocess.Popen([sys.executable, "-c", STAGE, str(tiny_repo), json.dumps(raw)], cwd=tiny_repo,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(children := psutil.Process(stage.pid).children()) < 2 and time.monotonic() < deadline:
            assert stage.poll() is None, "the stage ended before its workers started"
            time.sleep(0.2)
        assert len(children) == 2
        events = tiny_repo / "artifacts/federated/T/events.jsonl"
        while '"round_started"' not in (events.read_text() if events.exists() else ""):
            assert time.monotonic() < deadline and stage.poll() is None, "round 1 never started"
            time.sleep(0.2)
        time.sleep(1)  # client_0's worker is inside the hang now
        if sig == signal.SIGINT:
            os.killpg(stage.pid, sig)  # Ctrl-C reaches the whole process group, workers included
        else:
            stage.send_signal(sig)
        assert stage.wait(timeout=60) != 0
    finally:
        if stage.poll() is None:
            stage.kill()
    assert gone_within(children, 15) == []
