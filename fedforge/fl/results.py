"""Writing a phase's outputs: rounds.tsv rows, metrics.json, timing.json and the final model, atomically.

metrics.json and model/ are bit-for-bit reproducible (no wall-clock in them); wall time lives in the
`seconds` column of rounds.tsv (a cache: false plot) and in timing.json (overhead measurement).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

FIXED_COLUMNS = ["round", "test_acc", "test_auc", "test_balanced_acc", "test_loss", "train_loss_mean",
                 "clients_ok", "clients_failed", "num_examples", "seconds", "bytes_down", "bytes_up"]


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


def write_text(path: Path, text: str) -> None:
    """Write a text file via a temp file + os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, obj: dict) -> None:
    """Sorted, indented JSON (same content = same bytes), atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_model(model, folder: Path) -> None:
    """save_pretrained into a temp folder, then swap it in, so model/ is never half-written."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = folder.with_name(f".{folder.name}.tmp"), folder.with_name(f".{folder.name}.old")
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    model.save_pretrained(tmp)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)
