"""Read every phase's rounds.tsv / metrics.json and the centralized baselines, failing loudly on gaps.

The analysis is only worth reading when every phase in params.yaml is there: a missing or malformed file
raises an error that names the file and the `dvc repro` command that makes it, never an empty plot.
Formats: rounds.tsv columns as fedforge/fl/results.py writes them (ROUNDS_COLUMNS, in order, then one
train_loss.client_<i> per client); metrics.json as fedforge/fl/server.py and fedforge/train/centralized.py write it.
No wall-clock value is read: rounds.tsv has none (per-round seconds are in each phase's timing.json).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fedforge import paths
from fedforge.errors import MissingInputError, UserError
from fedforge.fl.results import CLIENT_LOSS_PREFIX, EPSILON_COLUMN, HOSPITAL_COLUMNS, ROUNDS_COLUMNS
from fedforge.train.metrics import METRIC_KEYS

ID_LIST_COLUMNS = ("clients_ok", "clients_failed")


class MissingOutputError(MissingInputError):
    """A phase or baseline output the analysis needs is absent or unreadable; the message says the fix."""


class MalformedOutputError(UserError, ValueError):
    """A phase or baseline output exists but does not follow the format its writer defines."""


@dataclass(frozen=True)
class PhaseRun:
    """One federated phase as the analysis sees it: its params, per-round table and final metrics."""

    name: str
    dataset: str
    strategy: str
    rounds: pd.DataFrame
    metrics: dict

    @property
    def label(self) -> str:
        """Legend text, e.g. 'A: bloodmnist / fedavg'."""
        return f"{self.name}: {self.dataset} / {self.strategy}"

    @property
    def client_ids(self) -> list[str]:
        """client_<i> ids in column order (from the train_loss.client_<i> columns)."""
        return [c[len(CLIENT_LOSS_PREFIX):] for c in self.rounds.columns if c.startswith(CLIENT_LOSS_PREFIX)]


@dataclass(frozen=True)
class AnalysisInputs:
    """Everything the notebook plots: phases in params.yaml order and one baseline per dataset they use."""

    phases: dict[str, PhaseRun]
    centralized: dict[str, dict]
    data_note: str = ""  # e.g. "synthetic twin of MedMNIST, scale 1.0, 28 px"; every figure shows it

    @property
    def data_sources(self) -> list[str]:
        """Which data the numbers come from ('synthetic' / 'medmnist'), as the outputs themselves record it."""
        found = [run.metrics.get("data_source") for run in self.phases.values()]
        found += [m.get("data_source") for m in self.centralized.values()]
        return sorted({s for s in found if s})

    @property
    def source_note(self) -> str:
        """What the figures say about their data: the params' description, else the recorded sources."""
        return self.data_note or f"data: {', '.join(self.data_sources) or 'unknown source'}"


def describe_data(data: dict) -> str:
    """One line naming the data behind the numbers, from {source, scale, image_size} (params.yaml `data`)."""
    if data["source"] == "synthetic":
        return f"synthetic twin of MedMNIST, scale {data['scale']}, {data['image_size']} px"
    return f"MedMNIST, {data['image_size']} px"


def read_rounds(path: str | Path) -> pd.DataFrame:
    """Parse one rounds.tsv into numbers (client id lists stay strings); a client loss (failed) or a hospital
    column (no client evaluated) may be NaN."""
    path = Path(path)
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    head = tuple(table.columns[: len(ROUNDS_COLUMNS)])
    if head != ROUNDS_COLUMNS:
        raise MalformedOutputError(f"{path}: columns {list(head)} do not start with {list(ROUNDS_COLUMNS)} "
                                   "(fedforge/fl/results.py); re-run the phase with the current code")
    extra = [c for c in table.columns[len(ROUNDS_COLUMNS):]
             if not (c.startswith(CLIENT_LOSS_PREFIX + "client_") or c == EPSILON_COLUMN)]
    if extra:
        raise MalformedOutputError(f"{path}: unexpected columns {extra}; after bytes_up only {EPSILON_COLUMN} "
                                   f"(DP phases) and {CLIENT_LOSS_PREFIX}client_<i> columns are allowed")
    if table.empty:
        raise MalformedOutputError(f"{path}: no completed rounds; re-run the phase")
    for column in table.columns:
        if column in ID_LIST_COLUMNS:
            continue
        values = pd.to_numeric(table[column].replace({"": np.nan}), errors="coerce")
        bad = values.isna() & (table[column] != "") & (table[column].str.lower() != "nan")
        nullable = column.startswith(CLIENT_LOSS_PREFIX) or column in HOSPITAL_COLUMNS  # failed / no evaluation
        if bad.any() or (values.isna().any() and not nullable):
            row = int(np.flatnonzero(bad | values.isna())[0]) + 1
            raise MalformedOutputError(f"{path}: column {column!r} row {row} is {table[column].iloc[row - 1]!r}, "
                                       "expected a number")
        table[column] = values
    table["round"] = table["round"].astype(int)
    return table.sort_values("round", kind="stable").reset_index(drop=True)


def read_metrics(path: str | Path) -> dict:
    """Load a metrics.json and check it has the test metrics every comparison uses."""
    path = Path(path)
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise MalformedOutputError(f"{path}: not valid JSON ({exc}); re-run the stage that writes it") from exc
    test = metrics.get("test") if isinstance(metrics, dict) else None
    missing = [k for k in METRIC_KEYS if not isinstance(test, dict) or k not in test]
    if missing:
        raise MalformedOutputError(f"{path}: test metrics {missing} missing; expected "
                                   '{"test": {"acc", "auc", "balanced_acc", "loss"}, ...}')
    return metrics


def required_files(phases: dict[str, dict], root: Path = paths.ARTIFACTS) -> list[tuple[Path, str]]:
    """(file, command that makes it) for every input of the analysis, in a stable order."""
    needed = []
    for name in phases:
        folder = paths.federated_dir(name, root)
        needed += [(folder / "rounds.tsv", f"dvc repro federate@{name}"),
                   (folder / "metrics.json", f"dvc repro federate@{name}")]
    for dataset in dict.fromkeys(phase["dataset"] for phase in phases.values()):
        needed.append((paths.centralized_dir(dataset, root) / "metrics.json", f"dvc repro centralized@{dataset}"))
    return needed


def load_inputs(phases: dict[str, dict], root: str | Path = paths.ARTIFACTS, data: dict | None = None) -> AnalysisInputs:
    """Read all phase outputs and baselines named by `phases` ({name: {dataset, strategy, ...}}); with
    `data` ({source, scale, image_size}) also check the outputs were made from that source."""
    root = Path(root)
    if not phases:
        raise MalformedOutputError("no phases to analyse: params.yaml `phases` is empty")
    missing = [(f, fix) for f, fix in required_files(phases, root) if not f.is_file()]
    if missing:
        lines = "\n".join(f"  {f}  ->  run `{fix}`" for f, fix in missing)
        raise MissingOutputError(f"the analysis needs {len(missing)} missing file(s):\n{lines}\n"
                                 "or run `dvc repro` for the whole pipeline")
    runs = {}
    for name, phase in phases.items():
        folder = paths.federated_dir(name, root)
        runs[name] = PhaseRun(name=name, dataset=phase["dataset"], strategy=phase["strategy"],
                              rounds=read_rounds(folder / "rounds.tsv"),
                              metrics=read_metrics(folder / "metrics.json"))
    centralized = {run.dataset: read_metrics(paths.centralized_dir(run.dataset, root) / "metrics.json")
                   for run in runs.values()}
    inputs = AnalysisInputs(phases=runs, centralized=centralized, data_note=describe_data(data) if data else "")
    if data and inputs.data_sources not in ([], [data["source"]]):
        raise MalformedOutputError(f"the phase outputs were made from {inputs.data_sources} data but params.yaml "
                                   f"says data.source={data['source']}; run `dvc repro` to rebuild them")
    return inputs
