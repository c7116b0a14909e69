"""Monitor settings: one frozen object built by create_app(), reachable from every route as a dependency."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Node liveness by heartbeat age: the server beats every ~5 s, so one missed beat is still "online".
STALE_AFTER_S = 15.0
LOST_AFTER_S = 60.0

MAX_BODY_BYTES = 1024 * 1024       # POST bodies above 1 MiB get 413 (telemetry batches are ~256 KiB max)
MAX_EVENTS_PER_REQUEST = 5000      # more events in one batch is a 422 naming the limit
WS_QUEUE_SIZE = 10_000             # events buffered per WebSocket subscriber before it is told to reconnect

# Host headers accepted when serving on loopback: refuses DNS-rebinding pages (evil.example -> 127.0.0.1).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")

# The dashboard's Vite dev server; the built dashboard is served by the monitor itself (same origin).
DEV_ORIGINS = ("http://127.0.0.1:5173", "http://localhost:5173")

# `start` runs the phase through DVC so its results are tracked; {phase} is filled in.
PHASE_COMMAND = ("dvc", "repro", "federate@{phase}")


@dataclass(frozen=True)
class Settings:
    db_path: Path
    token: str
    dashboard_dir: Path | None = None
    repo_root: Path = Path(".")
    params_file: str = "params.yaml"
    artifacts_dir: str = "artifacts"
    phase_command: tuple[str, ...] = PHASE_COMMAND
    public_url: str | None = None      # handed to launched phases as FEDFORGE_MONITOR_URL
    cors_origins: tuple[str, ...] = DEV_ORIGINS
    allowed_hosts: tuple[str, ...] | None = None  # None = any Host header (tests); the CLI sets LOOPBACK_HOSTS
    stale_after: float = STALE_AFTER_S
    lost_after: float = LOST_AFTER_S
    max_body_bytes: int = MAX_BODY_BYTES
    max_events_per_request: int = MAX_EVENTS_PER_REQUEST
    ws_queue_size: int = WS_QUEUE_SIZE

    @property
    def params_path(self) -> Path:
        return self.repo_root / self.params_file

    @property
    def artifacts_path(self) -> Path:
        return self.repo_root / self.artifacts_dir
