"""Tiny fabricated phase outputs in the exact format the federation writes (rounds.tsv, metrics.json)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fedforge import config, paths
from fedforge.fl.results import ROUNDS_COLUMNS

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 3
NUM_CLIENTS = 3


def _metrics(acc: float, **extra) -> dict:
    test = {"acc": acc, "auc": min(acc + 0.1, 1.0), "balanced_acc": acc - 0.1, "loss": 2.0 - acc}
    return {"test": test, "val": dict(test), "data_source": "synthetic", "device": "cpu", **extra}


def write_phase(root: Path, name: str, phase: dict, failed_client: str | None = None) -> None:
    """rounds.tsv with rising accuracy and falling per-client loss; `failed_client` misses round 2."""
    folder = paths.federated_dir(name, root)
    folder.mkdir(parents=True, exist_ok=True)
    clients = [f"client_{i}" for i in range(NUM_CLIENTS)]
    lines = ["\t".join(ROUNDS_COLUMNS + tuple(f"train_loss.{c}" for c in clients))]
    for r in range(1, phase["rounds"] + 1):
        failed = [failed_client] if failed_client and r == 2 else []
        ok = [c for c in clients if c not in failed]
        losses = ["" if c in failed else f"{1.5 / r + 0.1 * i:.4f}" for i, c in enumerate(clients)]
        acc = 0.3 + 0.15 * r
        row = [str(r), f"{acc:.4f}", f"{acc + 0.1:.4f}", f"{acc - 0.1:.4f}", f"{2 - acc:.4f}", f"{1.5 / r:.4f}",
               ",".join(ok), ",".join(failed), str(300 * len(ok)), str(400_000 * len(ok)),
               str(400_000 * len(ok)), f"{acc:.4f}", f"{acc - 0.1:.4f}", f"{acc - 0.1:.4f}", f"{acc - 0.2:.4f}"]
        lines.append("\t".join(row + losses))
    (folder / "rounds.tsv").write_text("\n".join(lines) + "\n")
    final = 0.3 + 0.15 * phase["rounds"]
    (folder / "metrics.json").write_text(json.dumps(_metrics(final, rounds=phase["rounds"], dataset=phase["dataset"],
                                                             strategy=phase["strategy"], engine="local")))


def write_outputs(root: Path, phases: dict) -> Path:
    """Every file the analysis reads for `phases`: each phase's outputs (B with a failed client) and baselines."""
    for i, (name, phase) in enumerate(phases.items()):
        write_phase(root, name, phase, failed_client="client_1" if i == 1 else None)
        central = paths.centralized_dir(phase["dataset"], root)
        central.mkdir(parents=True, exist_ok=True)
        (central / "metrics.json").write_text(json.dumps(_metrics(0.85, epochs=3)))
    return root


@pytest.fixture(scope="session")
def cfg() -> config.Config:
    """The repo's params.yaml with every phase cut to ROUNDS rounds (matching the fabricated tables)."""
    base = config.load(REPO / "params.yaml")
    return base.model_copy(update={"phases": {n: p.model_copy(update={"rounds": ROUNDS}) for n, p in base.phases.items()}})


@pytest.fixture(scope="session")
def phases(cfg) -> dict:
    """The phases as the analysis receives them: {name: {dataset, strategy, rounds}}."""
    return {n: {"dataset": p.dataset, "strategy": p.strategy, "rounds": p.rounds} for n, p in cfg.phases.items()}


@pytest.fixture
def phase_outputs(tmp_path: Path, phases) -> Path:
    """An artifacts/ root holding fabricated outputs for every phase in params.yaml."""
    return write_outputs(tmp_path / "artifacts", phases)
