"""The convergence figures and tables: plain functions over AnalysisInputs, so the notebook stays short.

Figures are plain matplotlib `Figure` objects (no pyplot: no global state, no GUI backend, nothing shown
twice in the notebook), rendered by Agg and saved with fixed metadata, so the same inputs give the same
PNG bytes (the executed notebook, its HTML and dvc.lock stay stable across re-runs).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fedforge.analysis.load import AnalysisInputs, PhaseRun
from fedforge.fl.results import CLIENT_LOSS_PREFIX, CURVE_COLUMNS
from fedforge.io import atomic_file

GLOBAL_METRICS = (("test_acc", "acc", "test ACC"), ("test_auc", "auc", "test AUC"), ("test_loss", "loss", "test loss"))
DPI = 110


def convergence_figure(inputs: AnalysisInputs) -> Figure:
    """Per-round global test ACC / AUC / loss of each phase against its dataset's centralized result."""
    runs = list(inputs.phases.values())
    fig = Figure(figsize=(12, 2.8 * len(runs)))
    axes = fig.subplots(len(runs), 3, squeeze=False)
    for row, run in zip(axes, runs):
        central = inputs.centralized[run.dataset]["test"]
        for ax, (column, key, title) in zip(row, GLOBAL_METRICS):
            ax.plot(run.rounds["round"], run.rounds[column], marker="o", label=f"federated ({run.strategy})")
            ax.axhline(central[key], color="black", linestyle="--", linewidth=1, label="centralized")
            ax.set_title(f"{run.name} {run.dataset}: {title}", fontsize=10)
            ax.set_xlabel("round")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"Convergence per phase vs centralized baseline ({inputs.source_note})")
    fig.tight_layout()
    return fig


def gap_table(inputs: AnalysisInputs) -> pd.DataFrame:
    """Final test metrics of each phase next to its dataset's centralized ones, and the gap (FL - central)."""
    rows = []
    for run in inputs.phases.values():
        fl, central = run.metrics["test"], inputs.centralized[run.dataset]["test"]
        row = {"phase": run.name, "dataset": run.dataset, "strategy": run.strategy}
        for key in ("acc", "auc", "balanced_acc"):
            row[f"fl_{key}"] = fl[key]
            row[f"central_{key}"] = central[key]
            row[f"gap_{key}"] = fl[key] - central[key]
        rows.append(row)
    return pd.DataFrame(rows)


def gap_figure(inputs: AnalysisInputs) -> Figure:
    """Grouped bars: final federated vs centralized test ACC, AUC and balanced ACC per phase (dataset)."""
    table = gap_table(inputs)
    keys = (("acc", "ACC"), ("auc", "AUC"), ("balanced_acc", "balanced ACC"))
    fig = Figure(figsize=(12, 3.6))
    axes = fig.subplots(1, len(keys), squeeze=False)
    labels = [f"{r.phase}\n{r.dataset}" for r in table.itertuples()]
    x = range(len(table))
    for ax, (key, title) in zip(axes[0], keys):
        ax.bar([i - 0.2 for i in x], table[f"fl_{key}"], width=0.4, label="federated")
        ax.bar([i + 0.2 for i in x], table[f"central_{key}"], width=0.4, label="centralized", color="0.6")
        for i, gap in zip(x, table[f"gap_{key}"]):
            top = max(table[f"fl_{key}"].iloc[i], table[f"central_{key}"].iloc[i])
            ax.annotate(f"{gap:+.3f}", (i, top), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(x), labels, fontsize=8)
        ax.set_ylim(0, 1.1)
        ax.set_title(f"final test {title}", fontsize=10)
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Federated minus centralized, per dataset ({inputs.source_note})")
    fig.tight_layout()
    return fig


def client_spread(run: PhaseRun) -> pd.DataFrame:
    """Per round: mean / std / min / max of the clients' train loss and which client lags (highest loss)."""
    losses = run.rounds[[c for c in run.rounds.columns if c.startswith(CLIENT_LOSS_PREFIX)]]
    losses.columns = run.client_ids
    spread = pd.DataFrame({"round": run.rounds["round"], "mean": losses.mean(axis=1), "std": losses.std(axis=1, ddof=0),
                           "min": losses.min(axis=1), "max": losses.max(axis=1)})
    spread["lagging_client"] = losses.idxmax(axis=1) if losses.notna().any().any() else None
    spread["clients_failed"] = run.rounds["clients_failed"]
    return spread


def client_spread_figure(inputs: AnalysisInputs) -> Figure:
    """Per phase: each client's local train loss per round, with the min-max band (fairness across hospitals)."""
    runs = list(inputs.phases.values())
    fig = Figure(figsize=(4.2 * len(runs), 3.4))
    axes = fig.subplots(1, len(runs), squeeze=False)
    for ax, run in zip(axes[0], runs):
        spread = client_spread(run)
        ax.fill_between(spread["round"], spread["min"], spread["max"], alpha=0.15, color="C0", label="min-max")
        for client in run.client_ids:
            ax.plot(run.rounds["round"], run.rounds[CLIENT_LOSS_PREFIX + client], marker=".", linewidth=1,
                    label=client)
        ax.plot(spread["round"], spread["mean"], color="black", linewidth=2, label="mean")
        ax.set_title(f"{run.label}\nlast-round std {spread['std'].iloc[-1]:.3f}", fontsize=9)
        ax.set_xlabel("round")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("client train loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Per-client train loss spread ({inputs.source_note})")
    fig.tight_layout()
    return fig


def communication_figure(inputs: AnalysisInputs) -> Figure:
    """Test ACC against cumulative bytes moved (server->clients + clients->server), one line per phase."""
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for run in inputs.phases.values():
        megabytes = (run.rounds["bytes_down"] + run.rounds["bytes_up"]).cumsum() / 1e6
        ax.plot(megabytes, run.rounds["test_acc"], marker="o", label=run.label)
    ax.set_xlabel("cumulative communication (MB, down + up)")
    ax.set_ylabel("global test ACC")
    ax.set_title(f"What accuracy the bytes bought ({inputs.source_note})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


FIGURES = {
    "convergence.png": convergence_figure,
    "gap.png": gap_figure,
    "client_spread.png": client_spread_figure,
    "communication.png": communication_figure,
}


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a PNG atomically with no version/date metadata (same inputs -> same bytes)."""
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    return Path(path)


def curves_table(run: PhaseRun) -> pd.DataFrame:
    """Per-round global metrics (the learning curve), plus client loss std and cumulative MB moved."""
    curves = run.rounds[list(CURVE_COLUMNS)].copy()
    curves["client_loss_std"] = client_spread(run)["std"]
    curves["cumulative_mb"] = (run.rounds["bytes_down"] + run.rounds["bytes_up"]).cumsum() / 1e6
    return curves


def write_curves(inputs: AnalysisInputs, folder: str | Path) -> list[Path]:
    """<phase>.tsv per phase: the data `dvc plots show/diff` draws, one small table per phase with the
    derived columns next to the curve. Deterministic (no wall-clock value), so DVC can cache it and compare
    it across commits and experiments."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, run in inputs.phases.items():
        path = folder / f"{name}.tsv"
        with atomic_file(path) as tmp:
            curves_table(run).to_csv(tmp, sep="\t", index=False, float_format="%.6f", lineterminator="\n")
        written.append(path)
    return written


def phase_table(inputs: AnalysisInputs) -> str:
    """Markdown table of every phase's final result next to its centralized baseline (for the README)."""
    header = ("| phase | dataset | strategy | data | rounds | FL test ACC | FL test AUC | FL bal. ACC "
              "| central ACC | central AUC | ACC gap | MB moved |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for run in inputs.phases.values():
        fl, central = run.metrics["test"], inputs.centralized[run.dataset]["test"]
        megabytes = (run.rounds["bytes_down"].sum() + run.rounds["bytes_up"].sum()) / 1e6
        lines.append(f"| {run.name} | {run.dataset} | {run.strategy} | {run.metrics.get('data_source', '?')} "
                     f"| {len(run.rounds)} | {fl['acc']:.3f} | {fl['auc']:.3f} | {fl['balanced_acc']:.3f} "
                     f"| {central['acc']:.3f} | {central['auc']:.3f} | {fl['acc'] - central['acc']:+.3f} "
                     f"| {megabytes:.1f} |")
    return "\n".join(lines) + f"\n\n_Data: {inputs.source_note.removeprefix('data: ')}._\n"
