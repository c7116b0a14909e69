"""The monitor's bearer token: generated once with `secrets`, kept beside the DB with 0600 permissions.

Imported by the federation (through the telemetry client) too, so it must not import FastAPI.
Env FEDFORGE_MONITOR_TOKEN overrides the file everywhere (monitor and federation alike).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from fedforge import paths
from fedforge.io import atomic_file

TOKEN_ENV = "FEDFORGE_MONITOR_TOKEN"
TOKEN_FILE_NAME = "monitor.token"


def token_path(db_path: str | Path | None = None) -> Path:
    """The token file that sits beside the monitor database."""
    return Path(db_path or paths.monitor_db()).with_name(TOKEN_FILE_NAME)


def read_token(db_path: str | Path | None = None) -> str | None:
    """The token from env FEDFORGE_MONITOR_TOKEN, else the file beside the DB, else None (no monitor set up)."""
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return env
    path = token_path(db_path)
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_token(db_path: str | Path | None = None) -> tuple[str, bool]:
    """Return (token, created): the env/file token, or a new one written atomically with mode 0600."""
    existing = read_token(db_path)
    if existing:
        return existing, False
    token = secrets.token_urlsafe(32)
    with atomic_file(token_path(db_path)) as tmp:
        # O_EXCL + 0600 at creation: the secret is never readable by others, not even for a moment.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
    return token, True
