"""Starts a federated phase as a subprocess (`dvc repro federate@<phase>`) and tracks it: one at a time.

The process runs in the repository root with the monitor's URL and token in its environment, so its
telemetry and run control reach this monitor whatever params.yaml says. Output goes to a log file beside
the database. The monitor never kills it: a phase outlives a monitor restart.
"""
from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class PhaseBusy(Exception):
    """A launched phase is still running."""


@dataclass
class Launch:
    phase: str
    command: list[str]
    process: subprocess.Popen
    started_at: float
    log_path: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None


class PhaseLauncher:
    def __init__(self, command: tuple[str, ...], cwd: Path, log_dir: Path, env: dict[str, str]):
        self.command, self.cwd, self.log_dir, self.env = command, cwd, log_dir, env
        self.current: Launch | None = None
        self._lock = threading.Lock()

    def running_phase(self) -> str | None:
        launch = self.current
        return launch.phase if launch is not None and launch.running else None

    def start(self, phase: str, on_exit=None) -> Launch:
        """Launch the phase, or PhaseBusy naming the one still running; `on_exit(returncode)` runs when it ends."""
        with self._lock:
            busy = self.running_phase()
            if busy is not None:
                raise PhaseBusy(f"phase {busy} is still running (pid {self.current.process.pid}); "
                                "stop its run first or wait for it to finish")
            command = [part.format(phase=phase) for part in self.command]
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"phase-{phase}.log"
            with open(log_path, "ab") as out:
                process = subprocess.Popen(command, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, env={**os.environ, **self.env})
            log.info("launched %s (pid %d), log %s", " ".join(command), process.pid, log_path)
            self.current = Launch(phase, command, process, time.time(), log_path)
            threading.Thread(target=self._watch, args=(process, on_exit), daemon=True).start()
            return self.current

    @staticmethod
    def _watch(process: subprocess.Popen, on_exit) -> None:
        code = process.wait()  # also reaps it: no zombie while the monitor runs
        log.info("phase process %d exited with %d", process.pid, code)
        if on_exit is not None:
            on_exit(code)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the launched process (tests, shutdown); its exit code or None when nothing ran."""
        launch = self.current
        return None if launch is None else launch.process.wait(timeout)
