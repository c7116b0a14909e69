"""`fedforge grid queue|report`: the experiment grid's cells, csv parsing, choice on val, and the whole recipe
(queue -> `dvc queue start` -> report) on tiny data in a fresh clone."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fedforge import cli, grid
from fedforge.errors import UserError
from tests.conftest import copy_tracked_files, tiny_params_dict, write_params

A_METRICS, B_METRICS = "artifacts/federated/A/metrics.json:", "artifacts/federated/B/metrics.json:"
METRIC_KEYS = ("val.acc", "val.balanced_acc", "test.acc", "test.balanced_acc", "clients.acc_mean",
               "clients.acc_worst", "rounds")
PARAM_KEYS = ("partition.preset", "data.synthetic.scale", "phases.A.dataset", "phases.B.dataset",
              "phases.A.proximal_mu", "phases.A.strategy", "phases.A.bn", "phases.B.loss")


def test_the_grid_is_16_cells_named_by_their_values():
    names = [cell.name for cell in grid.grid_cells("g")]
    assert names == [f"g-a-{p}-{s}-{b}" for p in ("moderate", "severe") for s in ("fedavg", "fedprox")
                     for b in ("global", "local", "recalibrated")] + ["g-b-ce", "g-b-weighted_ce", "g-b-balanced_softmax", "g-b-focal"]


def test_queue_command_sets_scale_fixed_settings_and_axes_and_targets_one_stage():
    cell = grid.select_cells("grid", ["a-severe-fedprox-local"])[0]
    assert grid.queue_command(cell, 0.25) == [
        *grid.DVC, "exp", "run", "--queue", "-n", "grid-a-severe-fedprox-local", "-S", "data.synthetic.scale=0.25",
        "-S", "phases.A.proximal_mu=0.1", "-S", "partition.preset=severe", "-S", "phases.A.strategy=fedprox",
        "-S", "phases.A.bn=local", "federate@A"]
    b_focal = grid.select_cells("grid", ["b-focal"])[0]
    assert grid.queue_command(b_focal, 0.5)[-4:] == ["data.synthetic.scale=0.5", "-S", "phases.B.loss=focal",
                                                     "federate@B"]


def test_an_unknown_cell_is_one_line_naming_the_known_ones():
    with pytest.raises(UserError, match=r"^--cells a-iid: not a grid cell; known: a-moderate-fedavg-global .* b-focal$"):
        grid.select_cells("grid", ["b-ce", "a-iid"])


def csv_row(name: str, state: str, a: dict, b: dict, params: dict) -> list[str]:
    """One `dvc exp show --csv` line: A's and B's metrics.json values, then the params."""
    return [name, "abc1234", "branch_base", "", "", state, "",
            *(str(a.get(k, "")) for k in METRIC_KEYS), *(str(b.get(k, "")) for k in METRIC_KEYS),
            *(str(params.get(k, "")) for k in PARAM_KEYS)]


BASE = {"partition.preset": "moderate", "data.synthetic.scale": 0.25, "phases.A.dataset": "bloodmnist",
        "phases.B.dataset": "dermamnist", "phases.A.proximal_mu": 0.1, "phases.A.strategy": "fedavg",
        "phases.A.bn": "global", "phases.B.loss": "ce"}
OLD = {"val.acc": 0.5, "val.balanced_acc": 0.4, "test.acc": 0.5, "test.balanced_acc": 0.4, "clients.acc_mean": 0.5,
       "clients.acc_worst": 0.3, "rounds": 5}  # the baseline's committed metrics, shown beside every experiment


def exp_show_csv() -> str:
    header = ["Experiment", "rev", "typ", "Created", "parent", "State", "Executor",
              *(A_METRICS + k for k in METRIC_KEYS), *(B_METRICS + k for k in METRIC_KEYS),
              # DVC prefixes a column with its file only when another file has the same key
              "params.yaml:partition.preset", *PARAM_KEYS[1:]]
    rows = [
        csv_row("", "", OLD, OLD, BASE),  # the workspace baseline
        csv_row("grid-a-moderate-fedavg-local", "Success",
                {**OLD, "val.acc": 0.7, "test.acc": 0.9, "clients.acc_mean": 0.6, "clients.acc_worst": 0.4}, OLD,
                {**BASE, "phases.A.bn": "local"}),
        csv_row("grid-a-moderate-fedprox-global", "Success",
                {**OLD, "val.acc": 0.8, "test.acc": 0.6, "clients.acc_mean": 0.7, "clients.acc_worst": 0.5,
                 "rounds": 3}, OLD, {**BASE, "phases.A.strategy": "fedprox"}),
        csv_row("grid-a-severe-fedavg-global", "Running", OLD, OLD, {**BASE, "partition.preset": "severe"}),
        csv_row("grid-a-severe-fedavg-local", "Failed", OLD, OLD, {**BASE, "partition.preset": "severe"}),
        csv_row("grid-b-focal", "Success", OLD,
                {**OLD, "val.acc": 0.7, "val.balanced_acc": 0.55, "test.acc": 0.71, "test.balanced_acc": 0.5},
                {**BASE, "phases.B.loss": "focal"}),
        csv_row("other-a-moderate-fedavg-local", "Success", {**OLD, "val.acc": 0.99}, OLD, BASE),
    ]
    return "\n".join(",".join(line) for line in [header, *rows]) + "\n"


def test_parse_exp_show_keeps_the_grids_finished_cells_and_their_phases_metrics():
    rows = grid.parse_exp_show(exp_show_csv(), "grid")
    assert [(r["cell"], r["phase"], r["select"], r["test.acc"], r["clients.acc_mean"], r["clients.acc_worst"],
             r["rounds"]) for r in rows] == [
        ("grid-a-moderate-fedavg-local", "A", 0.7, 0.9, 0.6, 0.4, 5.0),
        ("grid-a-moderate-fedprox-global", "A", 0.8, 0.6, 0.7, 0.5, 3.0),
        ("grid-b-focal", "B", 0.55, 0.71, 0.5, 0.3, 5.0)]
    assert rows[2]["params"] == {"partition.preset": "moderate", "data.synthetic.scale": "0.25",
                                 "phases.B.dataset": "dermamnist", "phases.B.loss": "focal"}
    assert grid.parse_exp_show(exp_show_csv(), "nothing") == []


def test_the_best_cell_per_preset_is_chosen_on_val_never_on_test():
    best = grid.best_per_preset(grid.parse_exp_show(exp_show_csv(), "grid"))
    # fedavg-local has the higher test ACC (0.9) but fedprox-global the higher val ACC (0.8)
    assert [(r["phase"], r["params"]["partition.preset"], r["cell"]) for r in best] == [
        ("A", "moderate", "grid-a-moderate-fedprox-global"), ("B", "moderate", "grid-b-focal")]


def test_report_without_grid_experiments_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setattr(grid, "run_dvc", lambda args: "Experiment,rev,typ,State\n,workspace,baseline,\n")
    with pytest.raises(UserError, match=r"^no finished `grid-\*` grid experiments in `dvc exp show`; run "):
        grid.report(tmp_path, "grid")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("argv", "error"), [
    (["grid", "queue", "--cells", "b-ce"], "not a DVC repository root; run `fedforge grid` where dvc.yaml is"),
    (["grid", "queue", "--scale", "0"], "--scale 0.0: must be > 0 (a fraction of the real split sizes, e.g. 0.25)"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, error, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("fedforge grid: error: ") and err.count("\n") == 1 and error in err, err


def test_a_name_taken_by_an_earlier_grid_is_one_line_with_the_fix(monkeypatch, tmp_path):
    (tmp_path / ".dvc").mkdir()
    monkeypatch.chdir(tmp_path)
    dvc_says = ("ERROR: Experiment conflicts with existing experiment 'grid-b-ce'. To overwrite the existing "
                "experiment run:\n\n\tdvc exp run -f ...\n")
    fake_dvc = [sys.executable, "-c", f"import sys; sys.stderr.write({dvc_says!r}); sys.exit(255)"]
    with pytest.raises(UserError) as error:
        grid.run_dvc([*fake_dvc, "exp", "run", "--queue", "-n", "grid-b-ce"])
    assert str(error.value) == ("`dvc exp run --queue -n grid-b-ce` failed: Experiment conflicts with existing "
                                "experiment 'grid-b-ce': `dvc exp remove` it or queue under another --name")

def normalised(text: str) -> str:
    """The report with every measured number replaced by N, so its whole shape can be compared."""
    return re.sub(r"\b\d\.\d{4}\b", "N", text)


def expected_report(prefix: str, scale: str, a_rows: list[str], b_rows: list[str], best: list[str],
                    missing: list[str]) -> str:
    intro = (f"Written by `fedforge grid report` from `dvc exp show --csv` (experiments `{prefix}-*`, queued by "
             f"`fedforge grid queue`). Synthetic twin, `data.synthetic.scale` {scale}; every other param as in the "
             "baseline commit's params.yaml. Cells are compared on val metrics only (val ACC for A, val balanced "
             "ACC for B); test columns are shown, never used to choose. Hospitals' mean / worst = the unweighted "
             "mean and the minimum of the hospitals' ACC on their own val splits (last round). With `bn: local` "
             "the test and val figures are the mean over the hospitals' own models (metrics.json `test_is`).")
    b_header = ("| cell | loss | val balanced ACC | test ACC | test balanced ACC | hospitals' mean val ACC "
                "| worst val ACC | rounds |")
    done = (f"{len(a_rows) + len(b_rows)} of 16 cells finished. Not finished (queued, running, failed or never "
            f"queued): {', '.join(missing)}.")
    return "\n".join([
        "# Experiment grid", "", intro, "",
        "## Phase A (bloodmnist): partition.preset x phases.A.strategy x phases.A.bn", "",
        "| cell | preset | strategy | bn | val ACC | test ACC | hospitals' mean val ACC | worst val ACC | rounds |",
        "|---|---|---|---|---|---|---|---|---|", *a_rows, "",
        "## Phase B (dermamnist): phases.B.loss", "", b_header, "|---|---|---|---|---|---|---|---|", *b_rows, "",
        "## Best cell per preset (chosen on val)", "",
        "| phase | preset | best cell | chosen on | val | test ACC |", "|---|---|---|---|---|---|", *best, "",
        "![phase A val ACC per preset, strategy and bn](figures/grid_heatmap.png)", "", done, ""])


def test_report_writes_the_table_and_the_heatmap(monkeypatch, tmp_path):
    monkeypatch.setattr(grid, "run_dvc", lambda args: exp_show_csv())
    grid.report(tmp_path, "grid")
    finished = {"grid-a-moderate-fedavg-local", "grid-a-moderate-fedprox-global", "grid-b-focal"}
    assert (tmp_path / "grid.md").read_text() == expected_report(
        "grid", "0.25",
        ["| `grid-a-moderate-fedavg-local` | moderate | fedavg | local | 0.7000 | 0.9000 | 0.6000 | 0.4000 | 5 |",
         "| `grid-a-moderate-fedprox-global` | moderate | fedprox | global | 0.8000 | 0.6000 | 0.7000 | 0.5000 | 3 |"],
        ["| `grid-b-focal` | focal | 0.5500 | 0.7100 | 0.5000 | 0.5000 | 0.3000 | 5 |"],
        ["| A | moderate | `grid-a-moderate-fedprox-global` | val ACC | 0.8000 | 0.6000 |",
         "| B | moderate | `grid-b-focal` | val balanced ACC | 0.5500 | 0.7100 |"],
        [c.name for c in grid.grid_cells("grid") if c.name not in finished])
    assert (tmp_path / "figures" / "grid_heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run(cmd: list[str], cwd: Path, env: dict, timeout: float = 600) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_the_whole_recipe_on_tiny_data_in_a_fresh_clone(tmp_path):
    repo = copy_tracked_files(tmp_path / "repo")
    params = tiny_params_dict(**{"data.datasets": ["bloodmnist", "dermamnist"], "centralized.epochs": 1,
                                 "phases.A.rounds": 1, "phases.A.local_epochs": 1, "phases.B.rounds": 1})
    params["phases"] = {name: params["phases"][name] for name in ("A", "B")}
    write_params(repo, params)
    env = {**os.environ, "PYTHONPATH": str(repo), "DVC_NO_ANALYTICS": "1", "FEDFORGE_MONITOR_URL": "",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # the stages run `python`
           "FLWR_HOME": str(tmp_path / "flwr"), "OMP_NUM_THREADS": "1"}
    git = ["git", "-c", "user.email=test@fedforge", "-c", "user.name=test"]
    for cmd in (["git", "init", "-q"], [*git, "add", "-A"], [*git, "commit", "-qm", "fresh clone"]):
        run(cmd, repo, env)
    fedforge, dvc = [sys.executable, "-m", "fedforge.cli"], [sys.executable, "-m", "dvc"]
    queued = run([*fedforge, "grid", "queue", "--scale", "0.02", "--cells", "a-moderate-fedavg-local", "b-focal"],
                 repo, env)
    assert queued.splitlines() == ["queued grid-a-moderate-fedavg-local", "queued grid-b-focal",
                                   "2 experiments queued. Next:", "  dvc queue start --jobs 1",
                                   "  fedforge grid report"]
    try:
        run([*dvc, "queue", "start", "--jobs", "1"], repo, env)
        deadline = time.monotonic() + 1800
        while re.search(r"\b(Queued|Running)\b", status := run([*dvc, "queue", "status"], repo, env)):
            assert time.monotonic() < deadline, f"grid still running after 30 minutes:\n{status}"
            time.sleep(5)
    finally:
        run([*dvc, "queue", "stop", "--kill"], repo, env)
    assert sorted(re.findall(r"(grid-\S+)\s.*\b(Success|Failed)\b", status)) == [
        ("grid-a-moderate-fedavg-local", "Success"), ("grid-b-focal", "Success")], status
    out = run([*fedforge, "grid", "report"], repo, env)
    assert out == "2 grid experiments -> docs/grid.md, docs/figures/grid_heatmap.png\n"
    finished = {"grid-a-moderate-fedavg-local", "grid-b-focal"}
    assert normalised((repo / "docs/grid.md").read_text()) == expected_report(
        "grid", "0.02", ["| `grid-a-moderate-fedavg-local` | moderate | fedavg | local | N | N | N | N | 1 |"],
        ["| `grid-b-focal` | focal | N | N | N | N | N | 1 |"],
        ["| A | moderate | `grid-a-moderate-fedavg-local` | val ACC | N | N |",
         "| B | moderate | `grid-b-focal` | val balanced ACC | N | N |"],
        [c.name for c in grid.grid_cells("grid") if c.name not in finished])
    assert (repo / "docs/figures/grid_heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
