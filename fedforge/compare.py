"""`fedforge compare [REV] [--tolerance T]`: does this workspace's re-run agree with the results committed at REV?

Compares the headline test metrics (acc, auc, balanced_acc) of every centralized and federated metrics.json
that params.yaml names (data.datasets, phases) with the same file at REV (read with `git show`), prints a
table and returns 1 if any absolute difference exceeds the tolerance or a file is missing on either side.
`dvc metrics diff` shows the same numbers; this adds the yes/no answer across machines (README: Reproducibility).
"""
from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from fedforge import config, paths
from fedforge.errors import UserError

# The headline metrics of fedforge.train.metrics.METRIC_KEYS without loss (scale-dependent); all in [0, 1].
# Spelled out, not imported: the CLI builds this command's parser for every command, and that module
# imports scikit-learn. tests/test_compare.py checks the two agree.
COMPARED_KEYS = ("acc", "auc", "balanced_acc")
# Measured spread of the headline metrics across CPUs is well below this (README: Reproducibility).
DEFAULT_TOLERANCE = 0.02  # measured cross-CPU spread of the default pipeline: up to 0.013 (README, Reproducibility)


def metrics_files(cfg: config.Config) -> list[Path]:
    """The centralized and federated metrics.json files of the current params, in pipeline order."""
    central = [paths.centralized_dir(ds) / "metrics.json" for ds in cfg.data.datasets]
    return central + [paths.federated_dir(phase) / "metrics.json" for phase in cfg.phases]


def read_at(rev: str, path: Path) -> dict | None:
    """The JSON of `path` at git revision `rev`, or None when it is not there; UserError for an unknown rev."""
    if subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], capture_output=True,
                      check=False).returncode != 0:
        raise UserError(f"{rev}: not a git revision of this repository")
    shown = subprocess.run(["git", "show", f"{rev}:./{path.as_posix()}"], capture_output=True, text=True,
                           check=False)
    return json.loads(shown.stdout) if shown.returncode == 0 else None


def read_workspace(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def compare_rows(rev: str, files: list[Path], tolerance: float) -> list[dict]:
    """One row per (file, metric): both values, their absolute difference and whether it is within tolerance."""
    rows = []
    for path in files:
        old, new = read_at(rev, path), read_workspace(path)
        for key in COMPARED_KEYS:
            a = None if old is None else old.get("test", {}).get(key)
            b = None if new is None else new.get("test", {}).get(key)
            diff = None if a is None or b is None else abs(a - b)
            rows.append({"file": path.as_posix(), "metric": key, "rev": a, "workspace": b, "diff": diff,
                         "ok": diff is not None and diff <= tolerance})
    return rows


def format_table(rows: list[dict], rev: str) -> str:
    def num(value):
        return "missing" if value is None else f"{value:.4f}"

    width = max(len(r["file"]) for r in rows)
    lines = [f"{'file':<{width}}  {'metric':<12}  {rev[:10]:>10}  {'workspace':>10}  {'|diff|':>8}  agrees"]
    lines += [f"{r['file']:<{width}}  {r['metric']:<12}  {num(r['rev']):>10}  {num(r['workspace']):>10}  "
              f"{num(r['diff']):>8}  {'yes' if r['ok'] else 'NO'}" for r in rows]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rev", nargs="?", default="HEAD", help="git revision holding the reference results "
                        "(default: HEAD)")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help=f"largest absolute difference that agrees (default: {DEFAULT_TOLERANCE})")
    parser.add_argument("--params", default="params.yaml", help="params file naming datasets and phases")


def main(args: argparse.Namespace) -> int:
    """Print the comparison table; 0 when every headline metric agrees within the tolerance, else 1."""
    rows = compare_rows(args.rev, metrics_files(config.load(args.params)), args.tolerance)
    print(format_table(rows, args.rev))
    bad = [r for r in rows if not r["ok"]]
    print(f"{len(rows) - len(bad)} of {len(rows)} headline metrics agree with {args.rev} within {args.tolerance}")
    return 1 if bad else 0
