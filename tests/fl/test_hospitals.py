"""Per-hospital evaluation: mean and worst client val ACC / balanced ACC in rounds.tsv, metrics.json, telemetry."""
from __future__ import annotations

import csv
import json

import pytest

from fedforge.fl import appconfig, engine, results
from fedforge.monitor.client.events import parse_event
from tests.fl.conftest import tiny_config

OUT = "artifacts/federated/T"


def test_hospital_summary_is_unweighted_mean_and_minimum():
    evaluate = {"client_0": {"num-examples": 1000, "eval_acc": 0.9, "eval_balanced_acc": 0.5},
                "client_1": {"num-examples": 10, "eval_acc": 0.5, "eval_balanced_acc": 0.7}}
    assert results.hospital_summary(evaluate) == {"acc_mean": 0.7, "acc_worst": 0.5, "balanced_acc_mean": 0.6,
                                                  "balanced_acc_worst": 0.5}
    assert results.hospital_summary({}) == dict.fromkeys(results.HOSPITAL_KEYS)


@pytest.mark.slow
def test_phase_reports_hospital_metrics_everywhere(tiny_repo):
    cfg = tiny_config(rounds=2)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=tiny_repo))
    with open(tiny_repo / OUT / "rounds.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert list(rows[0])[: len(results.ROUNDS_COLUMNS)] == list(results.ROUNDS_COLUMNS)
    metrics = json.loads((tiny_repo / OUT / "metrics.json").read_text())
    assert sorted(metrics["clients"]) == sorted(results.HOSPITAL_KEYS)
    last = {k: float(rows[-1][f"clients_{k}"]) for k in results.HOSPITAL_KEYS}
    assert {k: round(v, 6) for k, v in metrics["clients"].items()} == last
    assert metrics["clients"]["acc_worst"] <= metrics["clients"]["acc_mean"]
    events = [parse_event(line) for line in (tiny_repo / OUT / "events.jsonl").read_text().splitlines()]
    completed = [e for e in events if e.type == "round_completed"]
    assert [e.round for e in completed] == [1, 2]
    assert {k: getattr(completed[-1], f"clients_{k}") for k in results.HOSPITAL_KEYS} == metrics["clients"]
