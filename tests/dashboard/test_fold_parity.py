"""The dashboard's TypeScript event fold (runState.ts) against the monitor's Python fold, the source of truth.

Both fold the recorded phase (fixtures/phase_a_events.jsonl) at every round's end, whole, and stopped or failed
mid-round, and a 100-hospital run that samples 30 a round (fixtures/many_clients.py); the Python view of each case goes to a JSON file that dashboard/src/lib/runState.parity.test.ts
(run here through Vitest) compares with its own fold. Compared: what both folds have (run state and metrics,
rounds with who was sampled, node states, last-seen times, per-client history and failures) and the liveness
thresholds.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from fedforge.monitor.server.core.projection import fold_events
from fedforge.monitor.server.core.settings import LOST_AFTER_S, STALE_AFTER_S
from fedforge.train.metrics import METRIC_KEYS
from tests.dashboard.fixtures.many_clients import many_client_events
from tests.dashboard.harness import REPO, load_events

DASHBOARD = REPO / "dashboard"
VITEST_FILE = "src/lib/runState.parity.test.ts"
RUN_FIELDS = ("phase", "dataset", "data_source", "strategy", "engine", "num_rounds", "current_round", "started_at",
              "finished_at", "last_event_ts", "state", "error")
ROUND_FIELDS = ("round", *METRIC_KEYS, "train_loss", "clients_ok", "clients_failed", "num_examples", "seconds",
                "client_train_loss", "clients_sampled")
STEP_FIELDS = ("round", "stage", "num_examples", "train_loss", "metrics", "seconds")


def shared_view(fold: dict) -> dict:
    """The fields both folds have, in the projection's names (mirrored by sharedView in the Vitest file)."""
    def node_view(n: dict) -> dict:
        return {"kind": n["kind"], "state": n["state"], "last_seen": n["last_seen"],
                "partition_size": n["partition_size"], "label_histogram": n["label_histogram"],
                "history": [{k: h[k] for k in STEP_FIELDS} for h in n["history"] if h["ok"]],
                "failures": [{k: h[k] for k in ("round", "stage", "error")} for h in n["history"] if not h["ok"]]}

    return {"run": {**{k: fold[k] for k in RUN_FIELDS}, "metrics": {k: fold["metrics"].get(k) for k in METRIC_KEYS}},
            "rounds": [{**{k: r[k] for k in ROUND_FIELDS}, "completed": r["completed_at"] is not None}
                       for r in fold["rounds"]],
            "nodes": {n["node_id"]: node_view(n) for n in fold["nodes"]}}


def finished_mid_round(events: list[dict], status: str, error: str) -> list[dict]:
    """The phase cut in round 4 just after client_0 reported (client_1 busy, client_2 failed in round 3), then
    run_finished: the case where a fold that forgets to end some node's work shows it still busy."""
    cut = next(i for i, e in enumerate(events) if e["type"] == "round_started" and e["round"] == 4) + 3
    last = events[cut - 1]
    assert (last["type"], last["client"], last["state"]) == ("client_update", "client_0", "evaluating")
    return [*events[:cut], {"type": "run_finished", "run_id": last["run_id"], "phase": last["phase"],
                            "seq": last["seq"] + 1, "ts": last["ts"] + 1, "status": status, "rounds_completed": 3,
                            "metrics": {}, "error": error}]


def parity_cases(events: list[dict]) -> dict[str, list[dict]]:
    cases = {f"after round {e['round']}": events[: i + 1] for i, e in enumerate(events) if e["type"] == "round_completed"}
    cases["whole phase"] = events
    cases["stopped mid-round"] = finished_mid_round(events, "stopped", "stopped from the dashboard")
    cases["failed mid-round"] = finished_mid_round(events, "failed", "RuntimeError: the server lost its grid")
    # 100 hospitals, 30 sampled a round (seeded): whole, and cut in round 2 once its sampled clients were sent work
    many = many_client_events(clients=100, per_round=30, rounds=2)
    cases["100 hospitals, 30 sampled a round"] = many
    first_update = next(i for i, e in enumerate(many) if e["type"] == "client_update" and e["round"] == 2)
    cases["100 hospitals, round 2 training"] = many[:first_update]
    return cases


def test_run_finished_ends_every_nodes_work_in_the_python_fold():
    """The case the Vitest comparison leans on, pinned on the Python side too (a clear message if it moves)."""
    states = {n["node_id"]: n["state"] for n in fold_events(finished_mid_round(load_events(), "failed", "boom"))["nodes"]}
    assert states == {"server": "failed", "client_0": "idle", "client_1": "idle", "client_2": "failed"}


def test_typescript_fold_matches_the_python_fold(tmp_path):
    if shutil.which("npx") is None or not (DASHBOARD / "node_modules" / "vitest").is_dir():
        pytest.skip("needs npx and dashboard/node_modules: cd dashboard && npm ci")
    cases = parity_cases(load_events())
    cases_file, report_file = tmp_path / "cases.json", tmp_path / "vitest.json"
    cases_file.write_text(json.dumps({
        "liveness": {"stale_after": STALE_AFTER_S, "lost_after": LOST_AFTER_S},
        "cases": [{"name": name, "events": evs, "expected": shared_view(fold_events(evs))} for name, evs in cases.items()],
    }))
    # The default reporter prints the diffs; the JSON one says which comparisons ran and passed (none skipped).
    result = subprocess.run(["npx", "vitest", "run", VITEST_FILE, "--reporter=default", "--reporter=json",
                             f"--outputFile.json={report_file}"],
                            cwd=DASHBOARD, env={**os.environ, "FOLD_PARITY_CASES": str(cases_file), "NO_COLOR": "1"},
                            capture_output=True, text=True, timeout=600, check=False)
    output = (result.stdout + result.stderr)[-8000:]
    assert report_file.exists(), output
    report = json.loads(report_file.read_text())
    outcomes = {t["title"]: t["status"] for f in report["testResults"] for t in f["assertionResults"]}
    assert outcomes == {"ages nodes with the monitor's liveness thresholds": "passed",
                        **{name: "passed" for name in cases}}, output
    assert result.returncode == 0, output
