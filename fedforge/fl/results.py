"""rounds.tsv of a phase: one row per completed round, written atomically (fedforge.io).

metrics.json and model/ are bit-for-bit reproducible (no wall-clock in them); wall time lives in the
`seconds` column of rounds.tsv (a cache: false plot) and in timing.json (overhead measurement).
"""
from __future__ import annotations

from pathlib import Path

from fedforge.io import write_text

FIXED_COLUMNS = ["round", "test_acc", "test_auc", "test_balanced_acc", "test_loss", "train_loss_mean",
                 "clients_ok", "clients_failed", "num_examples", "seconds", "bytes_down", "bytes_up", "epsilon"]  # epsilon: DP budget spent (fl/privacy.py), empty without DP


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def write_rounds_tsv(path: Path, rows: list[dict], client_ids: list[str]) -> None:
    """rounds.tsv: the fixed columns (interfaces.md order), then train_loss.<client> per client."""
    columns = FIXED_COLUMNS + [f"train_loss.{c}" for c in client_ids]
    lines = ["\t".join(columns)] + ["\t".join(_cell(row.get(c)) for c in columns) for row in rows]
    write_text(path, "\n".join(lines) + "\n")
