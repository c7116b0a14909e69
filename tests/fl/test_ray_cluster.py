"""Simulation Engine on an existing Ray cluster: the test starts a Ray head of its own (`ray start --head`), runs a
tiny phase with RAY_ADDRESS pointing at it, and checks the ClientApps ran in that cluster (Flower started no Ray of
its own), the numbers equal the local engine's, and the cluster outlives the phase while nothing we started does;
the same when the stage is SIGKILLed mid-round. Slow: a Ray head and actors per test (~2-3 min on 2 busy cores).

The head runs in a session of its own: `ray stop` would stop every Ray process on the machine (other people's
simulations too), so the test stops exactly that session's processes instead.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from fedforge.fl import appconfig, engine, simulation
from fedforge.fl.processes import stop
from tests.fl.conftest import tiny_config, tiny_raw, write_tiny_data
from tests.fl.test_simulation import OUT, STAGE, alive, gone_within, rounds, simulation_config

RAY = Path(sys.executable).with_name("ray")  # the venv's: cluster workers run the Python that started the node


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayHead:
    """A one-node Ray cluster with its own temp dir and ports, in a session of its own (which is how we stop it)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths are length-limited
        port = _free_port()
        self.address = f"127.0.0.1:{port}"
        starter = subprocess.Popen(
            [str(RAY), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
             "--include-dashboard=false", f"--ray-client-server-port={_free_port()}", f"--temp-dir={self.temp_dir}",
             "--disable-usage-stats"],
            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.session = starter.pid  # every process of the head (GCS, raylet, agents, workers) stays in it
        output, _ = starter.communicate(timeout=180)
        assert starter.returncode == 0, output

    def processes(self) -> list[psutil.Process]:
        """The head's live processes: everything in its session (zombies count as gone)."""
        found = []
        for p in psutil.process_iter():
            with contextlib.suppress(psutil.Error, OSError):
                if os.getsid(p.pid) == self.session and p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p)
        return found

    def status(self) -> str:
        """`ray status` of this cluster: it answers only while the cluster runs."""
        return subprocess.run([str(RAY), "status", f"--address={self.address}"], capture_output=True, text=True,
                              timeout=120, check=True).stdout

    def all_cpus_free(self, timeout: float = 60) -> bool:
        """Whether `ray status` shows no CPU in use within `timeout`: it reports what the GCS last heard from the
        raylet, a few seconds after an actor's process has ended."""
        deadline = time.monotonic() + timeout
        while " 0.0/2.0 CPU" not in self.status():
            if time.monotonic() > deadline:
                return False
            time.sleep(1)
        return True

    def stop(self) -> None:
        stop(self.processes)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture
def ray_head():
    head = RayHead()
    try:
        yield head
    finally:
        head.stop()  # again if the test failed before its own stop


class Seen:
    """Processes seen while a phase ran, with the command lines they showed then (Ray renames its workers)."""

    def __init__(self) -> None:
        self.processes: dict[int, psutil.Process] = {}
        self.cmdlines: dict[int, set[str]] = {}

    def add(self, processes: list[psutil.Process]) -> None:
        for p in processes:
            with contextlib.suppress(psutil.Error):
                self.cmdlines.setdefault(p.pid, set()).add(" ".join(p.cmdline()))
                self.processes.setdefault(p.pid, p)

    def showing(self, text: str) -> list[psutil.Process]:
        return [p for pid, p in self.processes.items() if any(text in cmd for cmd in self.cmdlines[pid])]


@contextlib.contextmanager
def watching(head: RayHead):
    """Sample, twice a second, the processes this test process starts from now on and those of the head (children
    left by earlier tests in the same pytest process, e.g. a notebook kernel still shutting down, are not ours)."""
    ours, heads = Seen(), Seen()
    done = threading.Event()
    started = time.time() - 1.0

    def sample() -> None:
        while not done.wait(0.5):
            with contextlib.suppress(psutil.Error):
                ours.add([p for p in psutil.Process().children(recursive=True) if p.create_time() >= started])
            heads.add(head.processes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield ours, heads
    finally:
        done.set()
        sampler.join()


@pytest.mark.slow
def test_phase_runs_on_an_existing_ray_cluster_like_the_local_engine(ray_head, tmp_path_factory, monkeypatch):
    cfg = simulation_config()
    roots = {name: tmp_path_factory.mktemp(name) for name in ("cluster", "local")}
    for root in roots.values():
        write_tiny_data(root)
    monkeypatch.setenv("RAY_ADDRESS", ray_head.address)
    with watching(ray_head) as (ours, head_seen):
        simulation.run_simulation(cfg, "T", appconfig.app_config(cfg, "T", "simulation", repo_root=roots["cluster"]))
    monkeypatch.delenv("RAY_ADDRESS")
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=roots["local"]))

    metrics = {name: json.loads((root / OUT / "metrics.json").read_text()) for name, root in roots.items()}
    assert (metrics["cluster"]["engine"], metrics["cluster"]["rounds"]) == ("simulation", 2)
    assert rounds(roots["cluster"]) == rounds(roots["local"])
    assert metrics["cluster"]["test"] == metrics["local"]["test"]  # same apps, same numbers, on a cluster too

    assert len(ours.showing("fedforge.fl.simulation")) == 1  # the simulation child ran, as a Ray driver ...
    assert ours.showing("raylet") + ours.showing("gcs_server") == []  # ... with no Ray of its own under it
    actors = head_seen.showing("ClientAppActor")
    assert len(actors) == 2  # the ClientApps ran in the head: floor(2 CPUs / federation.client_cpus 1) actors
    assert gone_within(list(ours.processes.values()) + actors, 60) == []  # driver exited, Ray ended its actors

    assert ray_head.all_cpus_free()  # the cluster still runs, with all its CPUs free again
    head = ray_head.processes()
    assert {"gcs_server", "raylet"} <= {p.name() for p in head}
    ray_head.stop()
    assert alive(head + list(head_seen.processes.values())) == []  # nothing of the head is left


@pytest.mark.slow
def test_stage_killed_mid_round_on_a_cluster_ends_its_driver_and_actors_but_not_the_cluster(tiny_repo):
    """SIGKILL of the stage: the driver dies with it (PDEATHSIG), Ray ends the run's actors, the cluster stays."""
    head = RayHead(env={**os.environ, "FEDFORGE_FAULTS": "client_0:train:1:hang"})  # actors get `ray start`'s env
    try:
        raw = tiny_raw()
        raw["federation"]["engine"] = "simulation"
        with watching(head) as (ours, head_seen):
            stage = subprocess.Popen([sys.executable, "-c", STAGE, str(tiny_repo), json.dumps(raw)], cwd=tiny_repo,
                                     start_new_session=True, env={**os.environ, "RAY_ADDRESS": head.address})
            try:
                events = tiny_repo / OUT / "events.jsonl"
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline and (
                        '"round_started"' not in (events.read_text() if events.exists() else "")
                        or len(head_seen.showing("ClientAppActor")) < 2):
                    assert stage.poll() is None, "the stage ended before round 1 started"
                    time.sleep(0.5)
                time.sleep(3)  # client_0's actor hangs in round 1 now, client_1's has answered
                stage.kill()
                assert stage.wait(timeout=60) == -9
            finally:
                if stage.poll() is None:
                    stage.kill()
        driver = ours.showing("fedforge.fl.simulation")
        actors = head_seen.showing("ClientAppActor")
        assert (len(driver), len(actors)) == (1, 2)
        assert gone_within(list(ours.processes.values()) + actors, 90) == []
        assert head.all_cpus_free()  # the cluster still runs, with all its CPUs free again
    finally:
        head.stop()
    assert alive(list(head_seen.processes.values())) == []


def test_without_ray_address_the_backend_starts_its_own_ray_and_with_it_joins_that_cluster():
    """Flower calls ray.init() with no address, which would join the last `ray start` on this machine."""
    cfg = tiny_config()
    resources = {"num_cpus": cfg.federation.client_cpus, "num_gpus": cfg.federation.client_gpus}
    quiet = {"logging_level": "WARNING", "log_to_driver": True}
    assert simulation.backend_config(cfg, None) == {"client_resources": resources,
                                                    "init_args": {"address": "local", **quiet}}
    assert simulation.backend_config(cfg, "10.0.0.5:6379") == {"client_resources": resources,
                                                               "init_args": {"address": "10.0.0.5:6379", **quiet}}
