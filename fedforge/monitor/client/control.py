"""Run control as the federation sees it: between rounds, ask the monitor whether to go on, wait, or stop.

The monitor is optional: with no URL, an unknown run or an unreachable monitor the answer is "running"
(logged once), so a dead monitor can never hang or kill training. Only an explicit stop stops.
"""
from __future__ import annotations

import logging
import time
from typing import Literal

import httpx

from fedforge.monitor.client.telemetry import resolve_url

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.5  # seconds between state checks while paused


class RunControl:
    """Obey pause / resume / stop for one run, as set through the monitor's control API."""

    def __init__(self, url: str | None, run_id: str, *, poll_interval: float = POLL_INTERVAL):
        self.url = resolve_url(url)  # the state is read with an open GET: no token needed
        self.run_id = run_id
        self.poll_interval = poll_interval
        self._warned = False

    def state(self) -> str | None:
        """The run's state on the monitor, or None when there is no monitor / it does not know the run."""
        if not self.url:
            return None
        try:
            r = httpx.get(f"{self.url}/api/runs/{self.run_id}/state", timeout=httpx.Timeout(3.0, connect=1.0))
        except httpx.HTTPError as exc:
            if not self._warned:
                log.warning("run control: monitor %s unreachable (%s); carrying on", self.url, type(exc).__name__)
                self._warned = True
            return None
        if r.status_code != 200:
            if not self._warned:
                log.warning("run control: monitor answered %d for run %s; carrying on", r.status_code, self.run_id)
                self._warned = True
            return None
        self._warned = False
        return r.json().get("state")

    def wait_if_paused(self) -> Literal["running", "stopped"]:
        """Return at once unless paused; while paused poll until resumed ("running") or stopped ("stopped")."""
        announced = False
        while True:
            state = self.state()
            if state == "stopped":
                log.info("run control: run %s was stopped from the monitor", self.run_id)
                return "stopped"
            if state != "paused":
                if announced:
                    log.info("run control: run %s resumed", self.run_id)
                return "running"
            if not announced:
                log.info("run control: run %s paused from the monitor; waiting for resume or stop", self.run_id)
                announced = True
            time.sleep(self.poll_interval)
