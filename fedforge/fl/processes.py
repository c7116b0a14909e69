"""Process hygiene for the Deployment Engine: no Flower process outlives the stage that started it.

Three layers: PR_SET_PDEATHSIG on what we spawn (Linux), a detached watchdog that cleans up after a
SIGKILLed stage, and `stop()` over everything Flower started in the run folder (they all work there) or, for
the Simulation Engine, over the child's process tree.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

FLOWER_PROCESSES = ("flower-superlink", "flower-supernode", "flower-superexec", "flwr-serverapp", "flwr-clientapp",
                    "fedforge.fl.warm_superexec", "fedforge.fl.supernode")
STOP_GRACE_SECONDS = 5.0


def flower_processes_in(run_dir: Path) -> list[psutil.Process]:
    """Live Flower processes working in run_dir: all we start run there, and their children inherit it."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "status", "cwd"]):
        cmd, cwd = " ".join(p.info["cmdline"] or []), p.info["cwd"]
        if p.info["pid"] != os.getpid() and p.info["status"] != psutil.STATUS_ZOMBIE and cwd \
                and Path(cwd).is_relative_to(run_dir) and any(name in cmd for name in FLOWER_PROCESSES):
            found.append(p)
    return found


def stop(find: Callable[[], list[psutil.Process]]) -> None:
    """SIGTERM what `find` returns, SIGKILL what is still alive after a grace period; twice, for late spawns."""
    for attempt in range(2):
        victims = find()
        for p in victims:
            with contextlib.suppress(psutil.Error):
                p.terminate()
        _, alive = psutil.wait_procs(victims, timeout=STOP_GRACE_SECONDS if attempt == 0 else 1)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=STOP_GRACE_SECONDS)


def running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of `processes` still running (zombies and vanished ones left out)."""
    found = []
    for p in processes:
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
    return found


def _wait_until_gone(pid: int, each_poll: Callable[[], None] = lambda: None) -> None:
    """Return once process `pid` has ended (a zombie counts), calling `each_poll` every half second until then."""
    with contextlib.suppress(psutil.NoSuchProcess):
        parent = psutil.Process(pid)
        while running([parent]):
            each_poll()
            time.sleep(0.5)


def watchdog(parent_pid: int, run_dir: str) -> None:
    """Detached helper: once `parent_pid` is gone (even by SIGKILL), stop every Flower process in run_dir.

    PR_SET_PDEATHSIG takes down the SuperLink and SuperNodes we start, but what *they* start (SuperExec,
    flwr-serverapp, ClientApps) only notices a dead parent by polling and may hang in its exit handlers.
    """
    _wait_until_gone(parent_pid)
    stop(lambda: flower_processes_in(Path(run_dir)))


def tree_watchdog(parent_pid: int, root_pid: int) -> None:
    """Detached helper: remember every process under `root_pid` while `parent_pid` lives; once the parent is
    gone (even by SIGKILL), stop those still running.

    For the Simulation Engine: PR_SET_PDEATHSIG ends the Ray driver and Ray fate-shares its GCS and raylet, but
    the raylet's agents (DashboardAgent, RuntimeEnvAgent) are reparented and, on a busy machine, were seen alive
    more than 30 s later. psutil matches pid and start time, so a recycled pid is never hit.
    """
    seen: dict[int, psutil.Process] = {}

    def remember() -> None:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(root_pid)
            seen.update({p.pid: p for p in [root, *root.children(recursive=True)]})

    _wait_until_gone(parent_pid, remember)
    stop(lambda: running(list(seen.values())))


def start_watchdog(target: Callable[..., None], *args: int | str, cwd: Path | None = None) -> subprocess.Popen:
    """Run `target(*args)` (`watchdog` or `tree_watchdog`) in a detached Python process, in a session of its own
    so it outlives a SIGKILLed stage; the caller terminates it once there is nothing left to guard."""
    code = f"import json, sys; from fedforge.fl import processes; processes.{target.__name__}(*json.loads(sys.argv[1]))"
    return subprocess.Popen([sys.executable, "-c", code, json.dumps(list(args))], cwd=cwd, start_new_session=True,
                            stdin=subprocess.DEVNULL)


def die_with_parent() -> None:
    """Linux: the child gets SIGTERM if we die, even by SIGKILL, so no SuperLink outlives its stage."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt while the federation runs, so `finally` tears it down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
