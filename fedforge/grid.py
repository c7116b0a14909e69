"""`fedforge grid queue|report`: the experiment grid behind the defaults, run the DVC way.

`queue` puts one `dvc exp run --queue` per cell; each cell names only its target stage (federate@A or
federate@B), so cells that share upstream params (data, partition, centralized) share those stages through
DVC's run-cache instead of re-running them. `dvc queue start --jobs 1` runs them; `report` reads them back
with `dvc exp show --csv` and writes docs/grid.md and docs/figures/grid_heatmap.png. The best cell per preset
is chosen on val metrics only (val ACC for A, val balanced ACC for B), never on test.
"""
from __future__ import annotations

import argparse
import csv
import io
import itertools
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fedforge import paths
from fedforge.errors import UserError
from fedforge.io import write_text

# The grid, in one place: per phase, its axes (params key -> values, in table order) and the settings
# every cell of that phase adds. proximal_mu 0.1 is the FedProx value the tuning probes used; only fedprox reads it.
GRID: dict[str, dict[str, dict]] = {
    "A": {"axes": {"partition.preset": ("moderate", "severe"), "phases.A.strategy": ("fedavg", "fedprox"),
                   "phases.A.bn": ("global", "local", "recalibrated")},
          "fixed": {"phases.A.proximal_mu": 0.1}},
    "B": {"axes": {"phases.B.loss": ("ce", "weighted_ce", "balanced_softmax", "focal")}, "fixed": {}},
}
SCALE_KEY = "data.synthetic.scale"  # every cell: the synthetic twin at this fraction of the real split sizes
# The val metric each phase's cells are chosen on, and its label in the report.
SELECT_ON = {"A": ("val.acc", "val ACC"), "B": ("val.balanced_acc", "val balanced ACC")}
DVC = [sys.executable, "-m", "dvc"]


@dataclass(frozen=True)
class Cell:
    """One experiment of the grid: its name, phase and the params it sets on top of params.yaml."""
    name: str
    phase: str
    settings: tuple[tuple[str, object], ...]


def grid_cells(prefix: str = "grid") -> list[Cell]:
    """Every cell, phase A first, axes varied in GRID order; named <prefix>-<phase>-<value>-<value>..."""
    cells = []
    for phase, spec in GRID.items():
        keys = list(spec["axes"])
        for values in itertools.product(*spec["axes"].values()):
            name = "-".join([prefix, phase.lower(), *map(str, values)])
            cells.append(Cell(name, phase, tuple(spec["fixed"].items()) + tuple(zip(keys, values))))
    return cells


def select_cells(prefix: str, only: list[str] | None) -> list[Cell]:
    """The cells to queue: all, or those whose name without the prefix is in `only` (e.g. a-severe-fedavg-local)."""
    known = {cell.name.removeprefix(f"{prefix}-"): cell for cell in grid_cells(prefix)}
    unknown = [name for name in only or () if name not in known]
    if unknown:
        raise UserError(f"--cells {' '.join(unknown)}: not a grid cell; known: {' '.join(known)}")
    return [known[name] for name in only or known]


def queue_command(cell: Cell, scale: float) -> list[str]:
    """`dvc exp run --queue -n <name> -S key=value ... federate@<phase>` for one cell."""
    sets = [f"{SCALE_KEY}={scale}", *(f"{key}={value}" for key, value in cell.settings)]
    return [*DVC, "exp", "run", "--queue", "-n", cell.name, *itertools.chain(*(("-S", s) for s in sets)),
            f"federate@{cell.phase}"]


def run_dvc(args: list[str]) -> str:
    """Run a dvc command in the current folder; its stdout, or a UserError with dvc's last error line."""
    if not Path(".dvc").is_dir():
        raise UserError(f"{Path.cwd()}: not a DVC repository root; run `fedforge grid` where dvc.yaml is")
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["(no output)"]
        error = next((line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR")), lines[-1])
        if "conflicts with existing experiment" in error:  # DVC goes on with a `-f` hint on further lines
            error = error.split(". ")[0] + ": `dvc exp remove` it or queue under another --name"
        raise UserError(f"`{' '.join(['dvc', *args[len(DVC):]])}` failed: {error}")
    return result.stdout


def queue(scale: float, prefix: str, only: list[str] | None) -> list[Cell]:
    """Queue the cells in DVC's experiment queue (nothing runs yet); returns them."""
    cells = select_cells(prefix, only)
    for cell in cells:
        run_dvc(queue_command(cell, scale))
        print(f"queued {cell.name}")
    return cells


def number(text: str | None) -> float | None:
    """A csv cell as a float; None for DVC's empty, '-' or '!' placeholders (and NaN)."""
    try:
        return None if math.isnan(value := float(text or "nan")) else value
    except ValueError:
        return None


def column(row: dict, file: str, key: str) -> str:
    """`file`'s `key` in an `exp show --csv` row. DVC names a column `file:key` only when another file has the
    same key, else just `key`: the prefixed name wins, the bare one is used when it is the only one."""
    return row.get(f"{file}:{key}", row.get(key)) or ""


def parse_exp_show(text: str, prefix: str) -> list[dict]:
    """The grid's finished experiments in `dvc exp show --csv` output, in grid order: one dict per cell.

    A queued, running or failed experiment is left out: its row shows the baseline's committed metrics."""
    by_name = {row.get("Experiment", ""): row for row in csv.DictReader(io.StringIO(text))}
    rows = []
    for cell in grid_cells(prefix):
        row = by_name.get(cell.name)
        if row is None or row.get("State", "") not in ("", "Success"):
            continue
        metrics = (paths.federated_dir(cell.phase) / "metrics.json").as_posix()
        params = {key: column(row, "params.yaml", key) for key in
                  ("partition.preset", SCALE_KEY, f"phases.{cell.phase}.dataset", *(k for k, _ in cell.settings))}
        values = {key: number(column(row, metrics, key)) for key in
                  ("val.acc", "val.balanced_acc", "test.acc", "test.balanced_acc", "clients.acc_mean",
                   "clients.acc_worst", "rounds")}
        rows.append({"cell": cell.name, "phase": cell.phase, "params": params, **values,
                     "select": values[SELECT_ON[cell.phase][0]]})
    return rows


def best_per_preset(rows: list[dict]) -> list[dict]:
    """Per (phase, preset): the row with the highest val metric (SELECT_ON); ties go to the earlier cell."""
    best: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row["phase"], row["params"]["partition.preset"])
        if row["select"] is not None and (key not in best or row["select"] > best[key]["select"]):
            best[key] = row
    return list(best.values())


def fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else str(int(value)) if digits == 0 else f"{value:.{digits}f}"


def markdown(rows: list[dict], prefix: str, note: str) -> str:
    """docs/grid.md: one table per phase, the best cell per preset on val, the heatmap and missing cells."""
    scales = sorted({row["params"][SCALE_KEY] for row in rows})
    intro = (f"Written by `fedforge grid report` from `dvc exp show --csv` (experiments `{prefix}-*`, queued by "
             f"`fedforge grid queue`). Synthetic twin, `{SCALE_KEY}` {', '.join(scales)}; every other param as in "
             "the baseline commit's params.yaml. Cells are compared on val metrics only (val ACC for A, val "
             "balanced ACC for B); test columns are shown, never used to choose. Hospitals' mean / worst = the "
             "unweighted mean and the minimum of the hospitals' ACC on their own val splits (last round). With "
             "`bn: local` the test and val figures are the mean over the hospitals' own models (metrics.json "
             "`test_is`).")
    lines = ["# Experiment grid", "", intro]
    if note:
        lines += ["", note]
    for phase, spec in GRID.items():
        phase_rows = [row for row in rows if row["phase"] == phase]
        if not phase_rows:
            continue
        axes = [key.rsplit(".", 1)[-1] for key in spec["axes"]]
        extra = ["test balanced ACC"] if phase == "B" else []
        header = ["cell", *axes, SELECT_ON[phase][1], "test ACC", *extra, "hospitals' mean val ACC",
                  "worst val ACC", "rounds"]
        dataset = phase_rows[0]["params"][f"phases.{phase}.dataset"]
        lines += ["", f"## Phase {phase} ({dataset}): {' x '.join(spec['axes'])}", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in phase_rows:
            cells = [f"`{row['cell']}`", *(row["params"][key] for key in spec["axes"]), fmt(row["select"]),
                     fmt(row["test.acc"]), *([fmt(row["test.balanced_acc"])] if extra else []),
                     fmt(row["clients.acc_mean"]), fmt(row["clients.acc_worst"]), fmt(row["rounds"], 0)]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Best cell per preset (chosen on val)", "",
              "| phase | preset | best cell | chosen on | val | test ACC |", "|---|---|---|---|---|---|"]
    lines += [f"| {row['phase']} | {row['params']['partition.preset']} | `{row['cell']}` | "
              f"{SELECT_ON[row['phase']][1]} | {fmt(row['select'])} | {fmt(row['test.acc'])} |"
              for row in best_per_preset(rows)]
    lines += ["", "![phase A val ACC per preset, strategy and bn](figures/grid_heatmap.png)"]
    done = {row["cell"] for row in rows}
    missing = [cell.name for cell in grid_cells(prefix) if cell.name not in done]
    unfinished = f" Not finished (queued, running, failed or never queued): {', '.join(missing)}." if missing else ""
    lines += ["", f"{len(done)} of {len(done) + len(missing)} cells finished.{unfinished}"]
    return "\n".join(lines) + "\n"


def heatmap(rows: list[dict], path: Path) -> Path:
    """Phase A val ACC as a preset x strategy/bn heatmap (blank = no finished cell), saved atomically."""
    from matplotlib.figure import Figure

    from fedforge.analysis.plots import save_figure

    axes = GRID["A"]["axes"]
    presets, strategies, bns = axes["partition.preset"], axes["phases.A.strategy"], axes["phases.A.bn"]
    columns = [f"{s}/{b}" for s in strategies for b in bns]
    found = {(r["params"]["partition.preset"], f"{r['params']['phases.A.strategy']}/{r['params']['phases.A.bn']}"):
             r["select"] for r in rows if r["phase"] == "A"}
    grid = [[found.get((p, c)) for c in columns] for p in presets]
    fig = Figure(figsize=(1.4 * len(columns) + 2, 1.0 * len(presets) + 1.6))
    ax = fig.subplots()
    image = ax.imshow([[math.nan if v is None else v for v in line] for line in grid], cmap="YlGn", aspect="auto")
    for i, line in enumerate(grid):
        for j, value in enumerate(line):
            ax.text(j, i, fmt(value, 3), ha="center", va="center")
    ax.set_xticks(range(len(columns)), columns, rotation=20, ha="right")
    ax.set_yticks(range(len(presets)), presets)
    ax.set_xlabel("phases.A.strategy / phases.A.bn")
    ax.set_ylabel("partition.preset")
    ax.set_title("Phase A val ACC (chosen on val, never test)")
    fig.colorbar(image, ax=ax, label="val ACC")
    fig.tight_layout()
    return save_figure(fig, path)


def report(out: Path, prefix: str, note: str = "") -> list[dict]:
    """Read the grid's experiments with `dvc exp show --csv`; write <out>/grid.md and the heatmap."""
    rows = parse_exp_show(run_dvc([*DVC, "exp", "show", "--csv"]), prefix)
    if not rows:
        raise UserError(f"no finished `{prefix}-*` grid experiments in `dvc exp show`; run `fedforge grid queue` "
                        "and `dvc queue start --jobs 1` first (`dvc queue status` shows progress)")
    heatmap(rows, out / "figures" / "grid_heatmap.png")
    write_text(out / "grid.md", markdown(rows, prefix, note))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="grid_command", metavar="ACTION", required=True)
    q = sub.add_parser("queue", help="queue one `dvc exp run --queue` per grid cell (nothing runs yet)")
    q.add_argument("--scale", type=float, default=0.25, help=f"{SCALE_KEY} of every cell (default: 0.25)")
    q.add_argument("--name", default="grid", help="experiment name prefix (default: grid)")
    q.add_argument("--cells", nargs="+", metavar="CELL", help="queue only these cells, named without the "
                   "prefix, e.g. a-severe-fedprox-local b-focal (default: all)")
    r = sub.add_parser("report", help="docs/grid.md + figures/grid_heatmap.png from `dvc exp show --csv`")
    r.add_argument("--out", type=Path, default=Path("docs"), help="output folder (default: docs)")
    r.add_argument("--name", default="grid", help="experiment name prefix (default: grid)")
    r.add_argument("--note", default="", help="a line added under the title, e.g. where and when it was measured")


def main(args: argparse.Namespace) -> int:
    """Queue the grid and print the next two commands, or write its report."""
    if args.grid_command == "report":
        rows = report(args.out, args.name, args.note)
        print(f"{len(rows)} grid experiments -> {args.out / 'grid.md'}, {args.out / 'figures' / 'grid_heatmap.png'}")
        return 0
    if not args.scale > 0:
        raise UserError(f"--scale {args.scale}: must be > 0 (a fraction of the real split sizes, e.g. 0.25)")
    cells = queue(args.scale, args.name, args.cells)
    print(f"{len(cells)} experiments queued. Next:\n  dvc queue start --jobs 1\n  fedforge grid report")
    return 0
