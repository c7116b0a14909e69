"""Where a running monitor can be found: endpoint.json beside its DB, for params `monitor.url: auto`.

`fedforge monitor` writes {url, pid, db, started_at} once it listens and removes the file when it stops;
a phase in auto mode reads it (`discover_url`) and ignores it when that process is gone (a killed monitor
leaves the file behind). Imported by the federation through the telemetry client: must not import FastAPI.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from fedforge import paths
from fedforge.io import write_text

log = logging.getLogger(__name__)

ENDPOINT_FILE_NAME = "endpoint.json"


def endpoint_path(db_path: str | Path | None = None) -> Path:
    """The endpoint file that sits beside the monitor database."""
    return Path(db_path or paths.monitor_db()).with_name(ENDPOINT_FILE_NAME)


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OSError, OverflowError):
        return False
    return True


def write_endpoint(db_path: str | Path, url: str) -> Path:
    """Announce this process's monitor at `url` (atomic write: a reader never sees half a file)."""
    return write_text(endpoint_path(db_path), json.dumps({
        "url": url, "pid": os.getpid(), "db": str(Path(db_path).resolve()), "started_at": time.time()}) + "\n")


def remove_endpoint(db_path: str | Path) -> None:
    """Withdraw the announcement, unless another monitor (another pid) has taken the file over since."""
    path = endpoint_path(db_path)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def discover_url(db_path: str | Path | None = None) -> str | None:
    """The URL of the monitor announced beside `db_path` (default artifacts/monitor/), or None when no live one."""
    path = endpoint_path(db_path)
    try:
        info = json.loads(path.read_text())
        url, pid = info["url"], int(info["pid"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("monitor discovery: ignoring unreadable %s (%s)", path, exc)
        return None
    if not pid_alive(pid):
        log.debug("monitor discovery: %s names pid %d, which is gone (stale file)", path, pid)
        return None
    return str(url)
