"""Fixtures for the monitor: a fresh DB + app + TestClient, an event factory, a live uvicorn monitor."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from fedforge.monitor.client.token import TOKEN_ENV
from fedforge.monitor.server.app import create_app

TOKEN = "test-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def explicit_monitor_url(monkeypatch):
    """tests/conftest.py blanks FEDFORGE_MONITOR_URL for the suite; it would override the URLs these tests pass
    to Telemetry / RunControl, so here it is unset (tests that want it set it; none reaches a real monitor)."""
    monkeypatch.delenv("FEDFORGE_MONITOR_URL", raising=False)


def make_event(kind: str, seq: int, run_id: str = "run-1", phase: str = "A", **fields) -> dict:
    """A valid event dict of one type; `fields` override the defaults."""
    defaults = {
        "run_started": {"dataset": "bloodmnist", "data_source": "synthetic", "strategy": "fedavg",
                        "num_rounds": 3, "engine": "local", "clients": ["client_0", "client_1"],
                        "partition_sizes": {"client_0": 40, "client_1": 60},
                        "label_histograms": {"client_0": [20, 20], "client_1": [10, 50]}},
        "round_started": {"round": 1, "clients": ["client_0", "client_1"]},
        "client_update": {"round": 1, "client": "client_0", "stage": "train", "state": "training",
                          "num_examples": 40, "train_loss": 1.5},
        "client_failed": {"round": 1, "client": "client_1", "stage": "train", "error": "boom"},
        "round_completed": {"round": 1, "metrics": {"acc": 0.5, "auc": 0.6, "balanced_acc": 0.4, "loss": 1.2},
                            "train_loss": 1.5, "clients_ok": ["client_0"], "clients_failed": ["client_1"],
                            "num_examples": 40, "seconds": 2.0},
        "run_finished": {"status": "completed", "rounds_completed": 1, "metrics": {"acc": 0.5}},
        "heartbeat": {"node": "server", "state": "idle"},
    }[kind]
    return {"type": kind, "run_id": run_id, "phase": phase, "seq": seq, "ts": time.time(), **defaults, **fields}


def post_events(client, *events, headers=AUTH):
    return client.post("/api/events", json={"events": list(events)}, headers=headers)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "monitor" / "monitor.db"


@pytest.fixture
def app(db_path, tmp_path):
    return create_app(db_path, token=TOKEN, repo_root=tmp_path)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def started_run(client):
    """A run 'run-1' of phase A that has started (state running)."""
    assert post_events(client, make_event("run_started", 0)).status_code == 200
    return "run-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveMonitor:
    """uvicorn serving create_app() in a thread on a free loopback port; stop() and start() again at will."""

    def __init__(self, db_path: Path, repo_root: Path, **settings):
        self.db_path, self.repo_root, self.settings = db_path, repo_root, settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = self.thread = None

    def start(self) -> None:
        app = create_app(self.db_path, token=TOKEN, repo_root=self.repo_root, public_url=self.url, **self.settings)
        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                ws="websockets-sansio", ws_per_message_deflate=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live monitor did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(20)
            self.server = None


@pytest.fixture
def live_monitor(db_path, tmp_path):
    monitor = LiveMonitor(db_path, tmp_path)
    monitor.start()
    yield monitor
    monitor.stop()


@dataclass
class ServedMonitor:
    proc: subprocess.Popen
    url: str
    output: str = ""  # stdout + stderr (logs), filled in when the process has stopped


@contextlib.contextmanager
def serve_monitor(cwd: Path, db: Path, *extra: str):
    """`fedforge monitor` as its own process in `cwd` on a free port; yields once /api/health answers, then
    stops it with SIGTERM (as a user's kill would) and collects its output."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    proc = subprocess.Popen([sys.executable, "-m", "fedforge.cli", "monitor", "--db", str(db), "--port", str(port),
                             "--dashboard", str(cwd / "no-dist"), *extra], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    served = ServedMonitor(proc, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{served.url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "monitor did not start"
            time.sleep(0.1)
        yield served
    finally:
        proc.terminate()
        served.output, _ = proc.communicate(timeout=30)
