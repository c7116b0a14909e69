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


def simulation_config(num_clients: int = 2, **phase) -> config.Config:
    raw = tiny_raw(**phase)
    raw["federation"]["engine"] = "simulation"
    raw["partition"]["num_clients"] = num_clients
    return config.parse(raw)


def rounds(root) -> list[tuple[str, str, str]]:
    with open(root / OUT / "rounds.tsv") as fh:
        return [(r["round"], r["clients_ok"], r["clients_failed"]) for r in csv.DictReader(fh, delimiter="\t")]


def alive(processes: list[psutil.Process]) -> list[str]:
    """Command lines of the processes still running (zombies count as gone)."""
    running = []
    for p in processes:
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                running.append(f"{p.pid}: {' '.join(p.cmdline())[:120]}")
    return running


def gone_within(processes: list[psutil.Process], seconds: float) -> list[str]:
    """Wait until every process ended; kill and describe those that did not (so the next test starts clean).

    Shared with test_ray_cluster.py, as are simulation_config and rounds."""
    deadline = time.monotonic() + seconds
    while (left := alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for p in processes:
        with contextlib.suppress(psutil.Error):
            p.kill()
    return left


def test_phase_runs_on_the_simulation_engine_like_the_local_engine(tmp_path_factory):
    """3 hospitals, 2 sampled per round: the same hospitals (by partition id) and the same numbers as local."""
    cfg = simulation_config(num_clients=3, fraction_train=0.67)
    roots = {name: tmp_path_factory.mktemp(name) for name in ("simulation", "local")}
    for root in roots.values():
        write_tiny_data(root, num_clients=3)
    simulation.run_simulation(cfg, "T", appconfig.app_config(cfg, "T", "simulation", repo_root=roots["simulation"]))
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=roots["local"]))
    metrics = {name: json.loads((root / OUT / "metrics.json").read_text()) for name, root in roots.items()}
    assert (metrics["simulation"]["engine"], metrics["simulation"]["rounds"]) == ("simulation", 2)
    assert rounds(roots["simulation"]) == rounds(roots["local"])  # sampled by partition id, not random node id
    assert [len(ok.split(",")) for _, ok, _ in rounds(roots["local"])] == [2, 2]
    assert metrics["simulation"]["test"] == metrics["local"]["test"]  # same apps, same numbers, either engine


def test_secaggplus_phase_runs_secure_aggregation_on_the_simulation_engine(tmp_path, capfd):
    """federation.secure_aggregation: secaggplus runs SecAgg+ (its legacy-API apps) here too, not plain FedAvg."""
    write_tiny_data(tmp_path, num_clients=3)
    raw = tiny_raw(min_clients=3)
    raw["partition"]["num_clients"] = 3
    raw["model"].update(arch="cnn", norm="group")
    raw["federation"].update(engine="simulation", secure_aggregation="secaggplus")
    cfg = config.parse(raw)
    simulation.run_simulation(cfg, "T", appconfig.app_config(cfg, "T", "simulation", repo_root=tmp_path))
    metrics = json.loads((tmp_path / OUT / "metrics.json").read_text())
    assert (metrics["engine"], metrics["secure_aggregation"], metrics["rounds"]) == ("simulation", "secaggplus", 2)
    assert capfd.readouterr().err.count("Secure aggregation completed.") == 2  # Flower's log, once per round


def test_a_phase_that_fails_fails_the_stage(tiny_repo, monkeypatch):
    monkeypatch.setenv("FEDFORGE_FAULTS", "client_0:train:1,client_1:train:1")  # no client answers round 1
    cfg = simulation_config()
    with pytest.raises(SimulationError, match="phase T: the Simulation Engine exited with code 2"):
        simulation.run_simulation(cfg, "T", appconfig.app_config(cfg, "T", "simulation", repo_root=tiny_repo))


STAGE = """
import json, sys
from pathlib import Path
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
        names = " ".join(" ".join(p.cmdline()) for p in started.values() if alive([p]))
        assert "raylet" in names and "gcs_server" in names and "ClientAppActor" in names
        stage.send_signal(sig)
        assert stage.wait(timeout=60) != 0
    finally:
        if stage.poll() is None:
            stage.kill()
    assert gone_within(list(started.values()), 30) == []
