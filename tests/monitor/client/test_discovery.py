"""monitor.url: auto — phases find a running `fedforge monitor` by the endpoint.json it writes beside its DB."""
import json
import os
import subprocess
import sys

import pytest

from fedforge import paths
from fedforge.monitor.client import telemetry as tm
from fedforge.monitor.client.control import RunControl
from fedforge.monitor.client.endpoint import discover_url, endpoint_path, remove_endpoint, write_endpoint
from fedforge.monitor.client.telemetry import Telemetry

from ..conftest import TOKEN, serve_monitor


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An empty repo root as the cwd: discovery looks at artifacts/monitor/endpoint.json under it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_no_endpoint_file_means_no_monitor(repo):
    assert discover_url() is None
    assert tm.resolve_url("auto") is None


def test_endpoint_of_a_live_monitor_is_used(repo):
    write_endpoint(paths.monitor_db(), "http://127.0.0.1:8123")
    assert json.loads(endpoint_path().read_text())["pid"] == os.getpid()
    assert tm.resolve_url("auto") == "http://127.0.0.1:8123"
    assert RunControl("auto", "run-1").url == "http://127.0.0.1:8123"


def test_stale_endpoint_of_a_dead_monitor_is_ignored(repo):
    endpoint_path().parent.mkdir(parents=True)
    endpoint_path().write_text(json.dumps({"url": "http://127.0.0.1:8123", "pid": dead_pid()}))
    assert tm.resolve_url("auto") is None


def test_unreadable_endpoint_is_ignored(repo):
    endpoint_path().parent.mkdir(parents=True)
    endpoint_path().write_text("{half")
    assert tm.resolve_url("auto") is None


def test_env_overrides_discovery(repo, monkeypatch):
    write_endpoint(paths.monitor_db(), "http://127.0.0.1:8123")
    monkeypatch.setenv(tm.URL_ENV, "")
    assert tm.resolve_url("auto") is None
    monkeypatch.setenv(tm.URL_ENV, "http://127.0.0.1:9")
    assert tm.resolve_url("auto") == "http://127.0.0.1:9"
    monkeypatch.setenv(tm.URL_ENV, "auto")
    assert tm.resolve_url("") == "http://127.0.0.1:8123"


def test_remove_endpoint_leaves_another_monitors_file(repo):
    endpoint_path().parent.mkdir(parents=True)
    endpoint_path().write_text(json.dumps({"url": "http://127.0.0.1:8123", "pid": os.getpid() + 1}))
    remove_endpoint(paths.monitor_db())
    assert endpoint_path().exists()
    write_endpoint(paths.monitor_db(), "http://127.0.0.1:8123")
    remove_endpoint(paths.monitor_db())
    assert not endpoint_path().exists()


def test_auto_without_a_monitor_writes_events_jsonl_only(repo):
    t = Telemetry("run-1", "A", repo / "events.jsonl", url="auto", token=TOKEN)
    for _ in range(3):
        t.emit("heartbeat", node="server")
    t.close()  # no sender thread: nothing to wait for
    assert t.url is None and t._thread is None
    assert len((repo / "events.jsonl").read_text().splitlines()) == 3
    assert not (repo / "events.spool.jsonl").exists()


def test_served_monitor_is_found_and_withdraws_at_exit(repo):
    db = repo / paths.monitor_db()
    with serve_monitor(repo, db) as monitor:
        info = json.loads(endpoint_path().read_text())
        assert info["url"] == monitor.url and info["pid"] == monitor.proc.pid
        t = Telemetry("run-1", "A", repo / "events.jsonl", url="auto")  # token from the file beside the DB
        assert t.url == monitor.url
        t.emit("run_started", dataset="bloodmnist", data_source="synthetic", strategy="fedavg", num_rounds=1,
               engine="local", clients=["client_0"])
        t.close(timeout=20)
        assert t.sent == 1
        assert RunControl("auto", "run-1").state() == "running"
    assert not endpoint_path().exists()  # removed on SIGTERM
    assert tm.resolve_url("auto") is None


@pytest.mark.parametrize("url", ["", "auto", "http://127.0.0.1:8090", "https://monitor.example/"])
def test_params_monitor_url_accepts(url):
    from fedforge import config
    from tests.conftest import tiny_params_dict

    assert config.parse(tiny_params_dict(**{"monitor.url": url})).monitor.url == url


@pytest.mark.parametrize("url", ["localhost:8090", "ftp://host", "http://", "Auto", "on"])
def test_params_monitor_url_rejects_with_the_fix(url):
    from fedforge import config
    from tests.conftest import tiny_params_dict

    with pytest.raises(config.ConfigError, match=r"monitor\.url: got .*allowed: \"\" \(off\), auto"):
        config.parse(tiny_params_dict(**{"monitor.url": url}))


@pytest.mark.slow
def test_documented_flow_monitor_then_phase_streams_without_configuration(tmp_path):
    """`fedforge monitor &` then a phase with params as shipped (monitor.url: auto), no env: it streams live.
    Then a phase with no monitor running leaves events.jsonl only, and the next monitor start imports it."""
    import httpx
    import yaml

    fl_conftest = pytest.importorskip("tests.fl.conftest")
    pytest.importorskip("fedforge.fl.engine")
    repo = tmp_path / "repo"
    fl_conftest.write_tiny_data(repo)
    raw = fl_conftest.tiny_raw(rounds=1)
    raw["monitor"]["url"] = "auto"
    (repo / "params.yaml").write_text(yaml.safe_dump(raw))
    env = {k: v for k, v in os.environ.items() if k not in (tm.URL_ENV, "FEDFORGE_MONITOR_TOKEN")}
    env.update(FLWR_HOME=str(tmp_path / "flwr"), FLWR_TELEMETRY_ENABLED="0", FLWR_DISABLE_UPDATE_CHECK="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", FEDFORGE_FAULTS="")
    events = repo / paths.federated_dir("T") / "events.jsonl"

    def run_phase() -> list[dict]:
        subprocess.run([sys.executable, "-m", "fedforge.cli", "federate", "--phase", "T"], cwd=repo, env=env,
                       check=True, capture_output=True, timeout=600)
        return [json.loads(line) for line in events.read_text().splitlines()]

    db = repo / paths.monitor_db()
    with serve_monitor(repo, db) as monitor:
        recorded = run_phase()
        run_id = recorded[0]["run_id"]
        stored = httpx.get(f"{monitor.url}/api/runs/{run_id}/events", params={"limit": 10000}).json()
        assert [e["seq"] for e in stored] == [e["seq"] for e in recorded]  # all there when the phase exits
        assert httpx.get(f"{monitor.url}/api/runs/{run_id}").json()["state"] == "completed"

    recorded = run_phase()  # no monitor now: the stale-free repo has no endpoint.json
    assert not events.with_name("events.spool.jsonl").exists()
    with serve_monitor(repo, db) as monitor:
        run = httpx.get(f"{monitor.url}/api/runs/{recorded[0]['run_id']}").json()
        assert run["state"] == "completed"
    assert f"{len(recorded)} new events" in monitor.output
