"""Plot data for DVC (`dvc plots show/diff`) and a static SVG, written from Trainer's log history.

Why not DVCLive's Trainer callback: it logs every Trainer record, including train_runtime and
*_samples_per_second (wall-clock) and a dump of all TrainingArguments, into files a DVC stage must
declare, so the stage outputs (and dvc.lock's md5s) would change on every run. These files hold only
values that the seed determines, so `dvc repro` reproduces them bit for bit.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fedforge.io import atomic_file, write_text


def write_tsv(path: str | Path, header: list[str], rows: list[list]) -> Path:
    """Tab-separated file with a header row, written atomically (DVC reads TSV plots natively)."""
    lines = ["\t".join(header)] + ["\t".join(_cell(v) for v in row) for row in rows]
    return write_text(path, "\n".join(lines) + "\n")


def _cell(value) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


def train_loss_rows(log_history: list[dict]) -> list[list]:
    """[step, epoch, loss] for every training log record (one per `logging_steps`)."""
    return [[r["step"], r["epoch"], r["loss"]] for r in log_history if "loss" in r and "step" in r]


def eval_rows(log_history: list[dict]) -> list[list]:
    """[epoch, step, eval_loss, eval_acc, eval_auc, eval_balanced_acc] for every per-epoch validation."""
    keys = ("eval_loss", "eval_acc", "eval_auc", "eval_balanced_acc")
    return [[round(r["epoch"]), r["step"], *(r.get(k, float("nan")) for k in keys)]
            for r in log_history if "eval_loss" in r]


def confusion_rows(labels: np.ndarray, preds: np.ndarray, label_names: list[str]) -> list[dict]:
    """{actual, predicted} per example, for DVC's `confusion` template."""
    return [{"actual": label_names[int(a)], "predicted": label_names[int(p)]} for a, p in zip(labels, preds)]


def loss_curve_svg(path: str | Path, train: list[list], evals: list[list], title: str) -> Path:
    """Train loss per logged step and validation loss per epoch, against epochs, as a reproducible SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_file(path) as tmp, plt.rc_context({"svg.hashsalt": "fedforge", "svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(6, 4))
        if train:
            ax.plot([r[1] for r in train], [r[2] for r in train], label="train loss (per logged step)", lw=1)
        if evals:
            ax.plot([r[0] for r in evals], [r[2] for r in evals], "o-", label="validation loss (per epoch)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(tmp, format="svg", metadata={"Date": None})
        plt.close(fig)
    return path
