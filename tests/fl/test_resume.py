"""Resume: a phase SIGKILLed (or stopped from the monitor) mid-run ends, when re-run, exactly like an uninterrupted one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from fedforge.fl import appconfig, engine, server
from fedforge.monitor.client.control import RunControl
from fedforge.monitor.client.events import parse_event
from tests.fl.conftest import REPO, tiny_config, tiny_raw, write_tiny_data

PHASE = {"strategy": "fedadam", "server_lr": 0.01, "rounds": 3}  # FedAdam: server state (m_t, v_t) + round-dependent step
OUT = "artifacts/federated/T"
DETERMINISTIC = (f"{OUT}/metrics.json", f"{OUT}/rounds.tsv", f"{OUT}/model/model.safetensors",
                 "artifacts/checkpoints/T/checkpoint.npz")


def run(root):
    cfg = tiny_config(**PHASE)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=root))


def differing_outputs(root, reference) -> list[str]:
    """The declared outputs whose bytes differ from the uninterrupted reference run's."""
    return [name for name in DETERMINISTIC if (root / name).read_bytes() != (reference / name).read_bytes()]


def timed_rounds(root) -> tuple[list[int], int, int]:
    """(rounds listed in timing.json's round_seconds, start_round, rounds_run) of the last attempt."""
    timing = json.loads((root / OUT / "timing.json").read_text())
    return [e["round"] for e in timing["round_seconds"]], timing["start_round"], timing["rounds_run"]


def events(root) -> list:
    return [parse_event(line) for line in (root / OUT / "events.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    os.environ["FEDFORGE_MONITOR_URL"] = ""
    root = tmp_path_factory.mktemp("reference")
    write_tiny_data(root)
    run(root)
    return root


def _wait_for(predicate, proc, timeout=240.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"stage exited early with {proc.returncode}"
        assert time.monotonic() < deadline, "timed out waiting for the stage"
        time.sleep(0.1)


@pytest.mark.slow
def test_sigkill_in_round_2_then_rerun_matches_uninterrupted(tiny_repo, reference):
    (tiny_repo / "params.yaml").write_text(yaml.safe_dump(tiny_raw(**PHASE)))
    env = {**os.environ, "FEDFORGE_FAULTS": "client_0:train:2:hang", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(REPO), "FEDFORGE_MONITOR_URL": ""}
    proc = subprocess.Popen([sys.executable, "-m", "fedforge.cli", "federate", "--phase", "T"], cwd=tiny_repo,
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        log = tiny_repo / OUT / "events.jsonl"
        _wait_for(lambda: log.is_file() and '"round_started","round":2' in log.read_text().replace(" ", ""), proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (tiny_repo / OUT / "metrics.json").exists()

    run(tiny_repo)  # the re-run (what `dvc repro` does next), without the fault
    started = [e for e in events(tiny_repo) if e.type == "run_started"]
    assert [e.start_round for e in started] == [1, 2]
    assert differing_outputs(tiny_repo, reference) == []
    assert timed_rounds(tiny_repo) == ([1, 2, 3], 2, 2)  # round 1 timed by the killed attempt, kept
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nothing of the killed stage is left


def test_stop_from_monitor_saves_and_fails_then_resumes(tiny_repo, reference, monkeypatch):
    answers = iter(["stopped"])
    monkeypatch.setattr(RunControl, "wait_if_paused", lambda self: next(answers, "running"))
    with pytest.raises(server.StopRequested, match="after round 1"):
        run(tiny_repo)
    finished = [e for e in events(tiny_repo) if e.type == "run_finished"]
    assert finished[-1].status == "stopped" and finished[-1].rounds_completed == 1
    assert not (tiny_repo / OUT / "metrics.json").exists()
    assert timed_rounds(tiny_repo) == ([1], 1, 1)
    (tiny_repo / OUT / "rounds.tsv").unlink()  # what `dvc repro` does to declared outputs before the re-run
    run(tiny_repo)
    assert differing_outputs(tiny_repo, reference) == []
    assert timed_rounds(tiny_repo) == ([1, 2, 3], 2, 2)
