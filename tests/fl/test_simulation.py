"""Simulation Engine end to end: a tiny phase on Flower's Simulation Engine (Ray), the same numbers as the local
engine, a failing phase that fails the stage, and no Ray or Flower process outliving a stage killed mid-round.

Each test starts a real Ray instance (slow: ~1 min each on 2 busy cores). 100-client runs are in
benchmarks/scaling.py, not here.
"""
from __future__ import annotations

import contextlib
import csv
import json
import signal
import subprocess
import sys
import time

import psutil
import pytest

from fedforge import config
from fedforge.fl import appconfig, engine, simulation
from fedforge.fl.simulation import SimulationError
from tests.fl.conftest import tiny_raw, write_tiny_data

pytestmark = pytest.mark.slow
OUT = "artifacts/federated/T"


def _config(**phase) -> config.Config:
    raw = tiny_raw(**phase)
    raw["federation"]["engine"] = "simulation"
    return config.parse(raw)


def _alive(processes: list[psutil.Process]) -> list[str]:
    """Command lines of the processes still running (zombies count as gone)."""
    alive = []
    for p in processes:
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{p.pid}: {' '.join(p.cmdline())[:120]}")
    return alive


def _gone_within(processes: list[psutil.Process], seconds: float) -> list[str]:
    """Wait until every process ended; kill and describe those that did not (so the next test starts clean)."""
    deadline = time.monotonic() + seconds
    while (left := _alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for p in processes:
        with contextlib.suppress(psutil.Error):
            p.kill()
    return left


def test_phase_runs_on_the_simulation_engine_like_the_local_engine(tiny_repo, tmp_path_factory):
    cfg = _config()
    simulation.run_simulation(cfg, "T", appconfig.app_config(cfg, "T", "simulation", repo_root=tiny_repo))
    metrics = json.loads((tiny_repo / OUT / "metrics.json").read_text())
    assert (metrics["engine"], metrics["rounds"]) == ("simulation", 2)
    with open(tiny_repo / OUT / "rounds.tsv") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [(r["round"], r["clients_ok"], r["clients_failed"]) for r in rows] == [
        ("1", "client_0,client_1", ""), ("2", "client_0,client_1", "")]  # named by partition id, not node id

    local_root = tmp_path_factory.mktemp("local")
    write_tiny_data(local_root)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=local_root), cfg.partition.num_clients)
    local = json.loads((local_root / OUT / "metrics.json").read_text())
    assert local["test"] == pytest.approx(metrics["test"], abs=1e-6)  # same apps, same numbers, either engine


def test_a_phase_that_fails_fails_the_stage(tiny_repo, monkeypatch):
    monkeypatch.setenv("FEDFORGE_FAULTS", "client_0:train:1,client_1:train:1")  # no client answers round 1
    cfg = _config()
    with pytest.raises(SimulationError, match="phase T: the Simulation Engine exited with code 2"):
        simulation.run_simulation(cfg, "T", appconfig.app_config(cfg, "T", "simulation", repo_root=tiny_repo))


STAGE = """
import json, sys
from fedforge import config
from fedforge.fl import appconfig, simulation
cfg = config.parse(json.loads(sys.argv[2]))
simulation.run_simulation(cfg, "T", appconfig.app_config(cfg, "T", "simulation", repo_root=Path(sys.argv[1])))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stage_killed_mid_round_leaves_no_process(tiny_repo, monkeypatch, sig):
    monkeypatch.setenv("FEDFORGE_FAULTS", "client_0:train:1:hang")  # round 1 stays open until we kill the stage
    raw = tiny_raw()
    raw["federation"]["engine"] = "simulation"
    stage = subprocess.Popen([sys.executable, "-c", STAGE, str(tiny_repo), json.dumps(raw)], cwd=tiny_repo,
                             start_new_session=True)
    started: dict[int, psutil.Process] = {}
    try:
        events = tiny_repo / OUT / "events.jsonl"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and '"round_started"' not in (events.read_text() if events.exists() else ""):
            assert stage.poll() is None, "the stage ended before round 1 started"
            started.update({p.pid: p for p in psutil.Process(stage.pid).children(recursive=True)})
            time.sleep(0.5)
        time.sleep(3)  # the hanging ClientApp actor is busy now
        started.update({p.pid: p for p in psutil.Process(stage.pid).children(recursive=True)})
        names = " ".join(" ".join(p.cmdline()) for p in started.values() if _alive([p]))
        assert "raylet" in names and "gcs_server" in names and "ClientAppActor" in names
        stage.send_signal(sig)
        assert stage.wait(timeout=60) != 0
    finally:
        if stage.poll() is None:
            stage.kill()
    assert _gone_within(list(started.values()), 30) == []
