"""Run a real monitor (`fedforge monitor` in a subprocess) and Debian's Chromium for the dashboard tests.

Shared by tests/dashboard/test_e2e.py and benchmarks/dashboard_responsiveness.py.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dashboard" / "dist"
FIXTURE = Path(__file__).with_name("fixtures") / "phase_a_events.jsonl"
CHROMIUM = Path(os.environ.get("FEDFORGE_CHROMIUM", "/usr/bin/chromium"))
# Debian's chromium, never a downloaded browser; flags keep it quiet and container-friendly.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def missing_requirements() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: apt-get install -y chromium (or set FEDFORGE_CHROMIUM)"
    if not (DIST / "index.html").is_file():
        return f"dashboard not built ({DIST}): cd dashboard && npm ci && npm run build"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return 'playwright missing: pip install -e ".[dev]" (uses the system chromium; no `playwright install`)'
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_events(path: Path = FIXTURE) -> list[dict]:
    """The recorded phase, one event dict per line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Monitor:
    """`fedforge monitor` on a free port with its own DB; restartable on the same port and DB."""

    def __init__(self, workdir: Path, token: str = "e2e-token", port: int | None = None, root: Path = REPO):
        self.root = root  # the monitor reads params.yaml and artifacts/*/metrics.json from its working dir
        self.db = workdir / "monitor.db"
        self.log = workdir / "monitor.log"
        self.token = token
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def start(self, timeout: float = 60) -> Monitor:
        env = {**os.environ, "FEDFORGE_MONITOR_TOKEN": self.token}
        # --no-import: the repo's own artifacts/federated/*/events.jsonl (from a dvc repro) must not leak in
        cmd = [sys.executable, "-m", "fedforge.cli", "monitor", "--port", str(self.port), "--db", str(self.db),
               "--dashboard", str(DIST), "--no-import"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"monitor exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if self.http.get("/api/health").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"monitor did not answer within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def post(self, events: list[dict], *, now: bool = True) -> dict:
        """POST events like the telemetry client does; `now` restamps ts so nodes count as online."""
        if now and events:
            # Keep the recorded spacing (halved) but end at now: elapsed times look real, nodes stay online.
            t, last = time.time(), events[-1]["ts"]
            events = [{**e, "ts": round(t - (last - e["ts"]) / 2, 3)} for e in events]
        r = self.http.post("/api/events", json={"events": events}, headers={"Authorization": f"Bearer {self.token}"})
        r.raise_for_status()
        return r.json()

    def state(self, run_id: str) -> str:
        return self.http.get(f"/api/runs/{run_id}/state").json()["state"]


def launch_browser(playwright):
    """Headless Debian chromium through Playwright (executable_path set: no browser download)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


# In-page probes: long tasks (>50 ms on the main thread), slow interactions (Event Timing) and the input delay
# of every pointerdown (from the OS event to our handler), plus a 50 ms timer's lateness (event-loop lag).
PROBES = """
window.__perf = {longtasks: [], events: [], inputDelays: [], lags: []};
new PerformanceObserver((l) => l.getEntries().forEach((e) => __perf.longtasks.push(e.duration)))
  .observe({type: "longtask", buffered: true});
new PerformanceObserver((l) => l.getEntries().forEach((e) => __perf.events.push({name: e.name, duration: e.duration})))
  .observe({type: "event", buffered: true, durationThreshold: 16});
addEventListener("pointerdown", (e) => __perf.inputDelays.push(performance.now() - e.timeStamp), true);
(function tick(expected) {
  setTimeout(() => { const now = performance.now(); __perf.lags.push(now - expected); tick(now + 50); }, 50);
})(performance.now() + 50);
"""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_events(total: int, clients: int, per_round: int) -> list[dict]:
    """`total` events of a never-ending run: the recorded-like 3-client phase, or `clients` hospitals with
    `per_round` of them sampled each round (tests/dashboard/fixtures/many_clients.py)."""
    from tests.dashboard.fixtures.make_events import phase_events
    from tests.dashboard.fixtures.many_clients import events_per_round, many_client_events

    if clients == 3:
        return phase_events(run_id="bench-run", phase="bench", rounds=total // 7 + 2)[:total]
    rounds = total // events_per_round(per_round) + 2
    return many_client_events(run_id="bench-run", phase="bench", clients=clients, per_round=per_round,
                              rounds=rounds)[:total]


# The clicks cycle through these: away to the comparison tab, back to the run, re-sort its node list.
CLICKS = ("tab-compare", "tab-runs", "node-sort-lastLoss")


def load_run(monitor: Monitor, page, *, seconds: float, per_minute: int = 1000, click_every: float = 1.0,
             clients: int = 3, per_round: int | None = None) -> dict:
    """Feed a run at `per_minute` events/min for `seconds` (one event per POST, the worst case for the page)
    while clicking between tabs and re-sorting the node list; return what the page's probes measured."""
    total = int(per_minute * seconds / 60)
    per_round = clients if per_round is None else per_round
    events = bench_events(total, clients, per_round)
    monitor.post(events[:1])
    page.add_init_script(PROBES)
    page.goto(monitor.url + "/#run=bench-run")
    page.wait_for_selector('[data-testid="connection"][data-connection="live"]')
    interval = 60.0 / per_minute
    start = time.monotonic()
    next_click = start + click_every
    clicks = 0
    for i, event in enumerate(events[1:], start=1):
        while time.monotonic() < start + i * interval:
            time.sleep(0.002)
        monitor.post([event])
        if time.monotonic() >= next_click:
            page.get_by_test_id(CLICKS[clicks % len(CLICKS)]).click()
            clicks += 1
            next_click += click_every
    fed_seconds = time.monotonic() - start
    page.get_by_test_id("tab-runs").click()
    t0 = time.monotonic()
    page.wait_for_selector(f'[data-testid="run-view"][data-events="{total}"]', timeout=10_000)
    catch_up_ms = (time.monotonic() - t0) * 1000
    perf = page.evaluate("window.__perf")
    clicks_seen = [e["duration"] for e in perf["events"] if e["name"] in ("pointerdown", "pointerup", "click")]
    return {
        "clients": clients, "sampled_per_round": per_round,
        "events": total, "seconds": round(fed_seconds, 1), "events_per_minute": round(total / fed_seconds * 60),
        "clicks": clicks, "catch_up_after_last_post_ms": round(catch_up_ms),
        "long_tasks": len(perf["longtasks"]), "long_task_total_ms": round(sum(perf["longtasks"])),
        "long_task_max_ms": round(max(perf["longtasks"], default=0)),
        "main_thread_busy_share": round(sum(perf["longtasks"]) / (fed_seconds * 1000), 4),
        "input_delay_p50_ms": round(percentile(perf["inputDelays"], 0.5), 1),
        "input_delay_max_ms": round(max(perf["inputDelays"], default=0), 1),
        "slow_interaction_events_over_16ms": len(clicks_seen),
        "interaction_p50_ms": round(percentile(clicks_seen, 0.5)),
        "slowest_interaction_ms": round(max(clicks_seen, default=0)),
        "timer_lag_p50_ms": round(percentile(perf["lags"], 0.5), 1),
        "timer_lag_p95_ms": round(percentile(perf["lags"], 0.95), 1),
        "timer_lag_max_ms": round(max(perf["lags"], default=0), 1),
    }
