"""RunControl as the federation uses it, against a live monitor."""
import threading
import time

import httpx

from fedforge.monitor.client.control import RunControl

from ..conftest import AUTH, free_port, make_event


def start_run(url, run_id="run-1"):
    r = httpx.post(f"{url}/api/events", json={"events": [make_event("run_started", 0, run_id=run_id)]}, headers=AUTH)
    assert r.status_code == 200


def control(url, action, run_id="run-1"):
    r = httpx.post(f"{url}/api/runs/{run_id}/control/{action}", headers=AUTH)
    assert r.status_code == 200, r.text


def test_no_url_unknown_run_or_dead_monitor_mean_running(live_monitor):
    assert RunControl(None, "run-1").wait_if_paused() == "running"
    assert RunControl(live_monitor.url, "never-heard-of").wait_if_paused() == "running"
    assert RunControl(f"http://127.0.0.1:{free_port()}", "run-1").wait_if_paused() == "running"


def test_running_returns_at_once(live_monitor):
    start_run(live_monitor.url)
    assert RunControl(live_monitor.url, "run-1").wait_if_paused() == "running"


def wait_in_background(url: str) -> tuple[RunControl, threading.Thread, list]:
    """Start a run, pause it, and call wait_if_paused() in a thread; its answer lands in the list."""
    start_run(url)
    control(url, "pause")
    rc = RunControl(url, "run-1", poll_interval=0.05)
    result = []
    waiter = threading.Thread(target=lambda: result.append(rc.wait_if_paused()))
    waiter.start()
    return rc, waiter, result


def test_pause_holds_until_resume(live_monitor):
    _, waiter, result = wait_in_background(live_monitor.url)
    time.sleep(0.5)
    assert waiter.is_alive() and result == []  # still held
    control(live_monitor.url, "resume")
    waiter.join(10)
    assert result == ["running"]


def test_stop_while_paused_returns_stopped(live_monitor):
    rc, waiter, result = wait_in_background(live_monitor.url)
    time.sleep(0.3)
    control(live_monitor.url, "stop")
    waiter.join(10)
    assert result == ["stopped"]
    assert rc.wait_if_paused() == "stopped"


def test_monitor_dying_while_paused_releases_the_run(live_monitor):
    start_run(live_monitor.url)
    control(live_monitor.url, "pause")
    rc = RunControl(live_monitor.url, "run-1", poll_interval=0.05)
    result = []
    waiter = threading.Thread(target=lambda: result.append(rc.wait_if_paused()))
    waiter.start()
    time.sleep(0.3)
    live_monitor.stop()
    waiter.join(10)
    assert result == ["running"]
