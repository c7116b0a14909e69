"""The per-round files of a phase: rounds.tsv (a declared output) and timing.json (an undeclared run log).

rounds.tsv, metrics.json, model/ and the checkpoint hold no wall-clock value, so the same inputs give the
same bytes. Wall time lives only in timing.json (per-round seconds, the overhead ratio) and in telemetry
(events.jsonl, the monitor). ROUNDS_COLUMNS is the one definition of the rounds.tsv columns; the
analysis (fedforge/analysis/load.py) reads them by these names.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from fedforge.io import write_json, write_text
from fedforge.train.metrics import METRIC_KEYS

log = logging.getLogger(__name__)
CURVE_COLUMNS = ("round", *(f"test_{k}" for k in METRIC_KEYS), "train_loss_mean")  # the learning curve
HOSPITAL_KEYS = ("acc_mean", "acc_worst", "balanced_acc_mean", "balanced_acc_worst")  # metrics.json "clients"
HOSPITAL_COLUMNS = tuple(f"clients_{k}" for k in HOSPITAL_KEYS)  # the global model on each client's val split
ROUNDS_COLUMNS = (*CURVE_COLUMNS, "clients_ok", "clients_failed", "num_examples", "bytes_down", "bytes_up",
                  *HOSPITAL_COLUMNS)
CLIENT_LOSS_PREFIX = "train_loss."  # after ROUNDS_COLUMNS: one train_loss.client_<i> column per client
EPSILON_COLUMN = "epsilon"  # DP phases only (fl/privacy.py), between ROUNDS_COLUMNS and the client losses


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def hospital_summary(evaluate: dict[str, dict]) -> dict[str, float | None]:
    """Unweighted mean and worst (minimum) over the clients that evaluated the global model on their own val
    split this round, keyed by HOSPITAL_KEYS (None when no client answered): every hospital counts the same."""
    summary: dict[str, float | None] = {}
    for metric in ("acc", "balanced_acc"):
        values = [float(m[f"eval_{metric}"]) for m in evaluate.values() if f"eval_{metric}" in m]
        summary[f"{metric}_mean"] = sum(values) / len(values) if values else None
        summary[f"{metric}_worst"] = min(values) if values else None
    return summary


def hospital_models_mean(evaluate: dict[str, dict], split: str) -> dict[str, float]:
    """bn: local: the unweighted mean over hospitals of their own models' metrics on the shared `split` (val or
    test), which each hospital reports as central_<split>_<metric> (the server never holds their BatchNorm)."""
    reports = [m for m in evaluate.values() if f"central_{split}_acc" in m]
    if not reports:
        raise ValueError(f"no hospital reported its own model's {split} metrics this round (bn: local)")
    return {k: sum(float(m[f"central_{split}_{k}"]) for m in reports) / len(reports) for k in METRIC_KEYS}


def write_rounds_tsv(path: Path, rows: list[dict], client_ids: list[str]) -> None:
    """rounds.tsv: ROUNDS_COLUMNS, epsilon (DP phases), then train_loss.<client> per client; a line per round."""
    private = any(row.get(EPSILON_COLUMN) is not None for row in rows)  # a dp.mode none phase: no column at all
    columns = [*ROUNDS_COLUMNS, *([EPSILON_COLUMN] if private else []), *(f"{CLIENT_LOSS_PREFIX}{c}" for c in client_ids)]
    lines = ["\t".join(columns)] + ["\t".join(_cell(row.get(c)) for c in columns) for row in rows]
    write_text(path, "\n".join(lines) + "\n")


def logged_round_seconds(path: Path, upto: int) -> list[dict]:
    """The [{round, seconds}] an earlier attempt logged in timing.json for rounds 1..upto (a resume keeps them)."""
    if upto < 1 or not path.is_file():
        return []
    try:
        logged = json.loads(path.read_text())["round_seconds"]
        return [{"round": int(e["round"]), "seconds": float(e["seconds"])} for e in logged if int(e["round"]) <= upto]
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("%s unreadable (%s); timing.json lists only the rounds this attempt runs", path, exc)
        return []


def write_timing(path: Path, *, wall: float, client_seconds: float, engine: str, start_round: int,
                 rounds_run: int, round_seconds: list[dict]) -> None:
    """timing.json: this attempt's wall seconds (from start_round on), the clients' summed train + evaluate
    seconds in it and their ratio (framework overhead), and the wall seconds of every completed round,
    including those an earlier, killed attempt ran."""
    write_json(path, {"seconds": round(wall, 3), "client_compute_seconds": round(client_seconds, 3),
                      "overhead": round(wall / client_seconds, 4) if client_seconds else None, "engine": engine,
                      "start_round": start_round, "rounds_run": rounds_run, "round_seconds": round_seconds})
