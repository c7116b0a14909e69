"""Deployment Engine end to end on loopback: a tiny phase, a SuperNode killed mid-run, TLS + SuperNode auth.

Each test starts real flower-superlink / flower-supernode processes (slow: ~1 min each on 2 busy cores)
and checks that none of them, nor anything they spawned, outlives the test.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from fedforge import config, paths
from fedforge.fl import appconfig, deployment, engine
from fedforge.fl.certs import supernode_keys, tls_files
from fedforge.fl.deployment import DeploymentError, Federation, finish, launch
from tests.fl.conftest import tiny_raw, write_tiny_data

pytestmark = pytest.mark.slow
OUT = "artifacts/federated/T"


def _processes_started_in(folder: Path) -> list[psutil.Process]:
    """Live processes (not zombies) whose working directory is inside `folder`: ours all start there."""
    found = []
    for p in psutil.process_iter(["pid", "status"]):
        if p.info["pid"] == os.getpid() or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if Path(p.cwd()).is_relative_to(folder):
                found.append(p)
        except psutil.Error:
            continue
    return found


@pytest.fixture(autouse=True)
def _no_process_left_behind(tmp_path):
    yield
    deadline = time.monotonic() + 20  # a SIGTERMed process may still be exiting
    while (left := _processes_started_in(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.5)
    described = []
    for p in left:  # describe, then clean up before failing, so one broken test does not burden the next
        with contextlib.suppress(psutil.Error):
            described.append(f"{p.pid}: {' '.join(p.cmdline())}")
            p.kill()
    assert not described, f"processes left behind: {described}"


def _rounds(root: Path) -> list[dict]:
    with open(root / OUT / "rounds.tsv") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _client_updated(events: Path, client: str) -> bool:
    """Has the server recorded a reply from `client` yet (events.jsonl)?"""
    lines = events.read_text().splitlines() if events.exists() else []
    return any(e.get("type") == "client_update" and e.get("client") == client for e in map(json.loads, lines))


def _config(rounds: int = 2, **federation) -> config.Config:
    raw = tiny_raw(rounds=rounds)
    raw["federation"].update(engine="deployment", **federation)
    return config.parse(raw)


def test_phase_runs_on_superlink_and_supernodes_like_the_local_engine(tiny_repo, tmp_path_factory):
    cfg = _config()
    deployment.run_deployment(cfg, "T", appconfig.app_config(cfg, "T", "deployment", repo_root=tiny_repo))
    metrics = json.loads((tiny_repo / OUT / "metrics.json").read_text())
    assert metrics["engine"] == "deployment" and metrics["rounds"] == 2
    rows = _rounds(tiny_repo)
    assert [r["round"] for r in rows] == ["1", "2"]
    assert all(r["clients_ok"] == "client_0,client_1" and r["clients_failed"] == "" for r in rows)
    logs = tiny_repo / paths.deployment_dir("T") / "logs"
    assert "Received 2 results and 0 failures" in (logs / "serverapp.log").read_text()

    local_root = tmp_path_factory.mktemp("local")
    write_tiny_data(local_root)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=local_root))
    local = json.loads((local_root / OUT / "metrics.json").read_text())
    assert local["test"] == pytest.approx(metrics["test"], abs=1e-6)  # same apps, same numbers, either engine


def test_killed_supernode_leaves_the_phase_finishing_on_the_others(tiny_repo):
    cfg = _config(round_timeout=20)  # a dead node only goes offline after ~60 s of missed heartbeats
    events = tiny_repo / OUT / "events.jsonl"
    app_config = appconfig.app_config(cfg, "T", "deployment", repo_root=tiny_repo)
    with Federation(tiny_repo / paths.deployment_dir("T")) as fed:
        run_id = launch(fed, cfg, "T", app_config)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _client_updated(events, "client_1"):
            time.sleep(0.2)
        fed.kill("supernode_1")  # right after its first train reply: it never answers again
        finish(fed, cfg, "T", run_id)
    rows = _rounds(tiny_repo)
    assert [r["round"] for r in rows] == ["1", "2"]
    assert any("client_1" in r["clients_failed"] for r in rows)
    assert rows[-1]["clients_ok"] == "client_0"
    assert "client_failed" in events.read_text()


def test_tls_and_supernode_auth_admit_registered_nodes_only(tiny_repo, tmp_path):
    cfg = _config(rounds=1)
    tls = tls_files(tmp_path / "certs")
    keys = [supernode_keys(tmp_path / "keys", f"client_{i}") for i in range(3)]
    app_config = appconfig.app_config(cfg, "T", "deployment", repo_root=tiny_repo)
    with Federation(tiny_repo / paths.deployment_dir("T"), tls=tls, superlink_args=("--enable-supernode-auth",)) as fed:
        fed.start_superlink()
        for _, public in keys[:2]:
            fed.register_supernode(public)
        for i in range(2):
            fed.start_supernode(i, 2, warm=True, auth_key=keys[i][0])
        intruder = fed.start_supernode(1, 2, auth_key=keys[2][0], name="intruder")  # its key was never registered
        run_id = fed.submit(deployment.write_app(fed.run_dir / "app", app_config))
        finish(fed, cfg, "T", run_id)
        assert intruder.wait(timeout=60) != 0
        assert "Failed to activate SuperNode" in fed.log_tail("intruder")
    assert _rounds(tiny_repo)[0]["clients_ok"] == "client_0,client_1"


def test_failed_run_raises_with_the_serverapp_log(tiny_repo):
    cfg = _config()
    app_config = appconfig.app_config(cfg, "T", "deployment", repo_root=tiny_repo)
    app_config["phase"] = "NOPE"  # the ServerApp raises ConfigError naming the phases params define
    with pytest.raises(DeploymentError, match="finished:failed"):
        deployment.run_deployment(cfg, "T", app_config)


STAGE = """
import sys
from pathlib import Path
from fedforge import config
from fedforge.fl import appconfig, deployment
cfg = config.parse(__import__("json").loads(sys.argv[2]))
deployment.run_deployment(cfg, "T", appconfig.app_config(cfg, "T", "deployment", repo_root=Path(sys.argv[1])))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stage_killed_mid_round_leaves_no_flower_process(tiny_repo, sig):
    raw = tiny_raw()
    raw["federation"]["engine"] = "deployment"
    stage = subprocess.Popen([sys.executable, "-c", STAGE, str(tiny_repo), json.dumps(raw)], cwd=tiny_repo,
                             start_new_session=True)
    try:
        events = tiny_repo / OUT / "events.jsonl"
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and '"round_started"' not in (events.read_text() if events.exists() else ""):
            assert stage.poll() is None, "the stage ended before round 1 started"
            time.sleep(0.5)
        assert len(_processes_started_in(tiny_repo)) >= 5  # SuperLink, SuperExecs, 2 SuperNodes, ServerApp ...
        stage.send_signal(sig)
        assert stage.wait(timeout=60) != 0
    finally:
        if stage.poll() is None:
            stage.kill()
    # the autouse fixture asserts that nothing started in tiny_repo is still alive
