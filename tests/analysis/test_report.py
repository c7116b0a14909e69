"""The analysis stage end to end on fabricated outputs: one real headless notebook execution per test."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from fedforge import paths
from fedforge.analysis.load import MissingOutputError
from fedforge.analysis.plots import FIGURES
from fedforge.analysis.report import AnalysisError, inject_parameters, run_analysis

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "convergence_analysis.ipynb"


def _run(cfg, root, docs):
    return run_analysis(cfg, root=root, notebook=NOTEBOOK, docs_dir=docs, timeout=120)


def test_stage_writes_notebook_html_figures_and_readme_copies(cfg, phase_outputs, tmp_path):
    docs = tmp_path / "docs" / "figures"
    out = _run(cfg, phase_outputs, docs)
    assert out == paths.analysis_dir(phase_outputs)
    for name in FIGURES:
        figure = out / "figures" / name
        assert figure.is_file() and figure.stat().st_size > 5_000, name
    assert (docs / "convergence.png").read_bytes() == (out / "figures" / "convergence.png").read_bytes()
    assert (docs / "phase_table.md").read_text() == (out / "phase_table.md").read_text()
    assert not out.with_name(out.name + ".partial").exists()
    for name in cfg.phases:
        assert (out / "curves" / f"{name}.tsv").read_text().startswith("round\ttest_acc\t")

    executed = json.loads((out / "convergence_analysis.ipynb").read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == len(FIGURES)
    assert all("execution" not in c["metadata"] for c in executed["cells"])
    assert "version" not in executed["metadata"]["language_info"]

    html = (out / "convergence_analysis.html").read_text()
    assert html.count('src="data:image/png;base64,') == len(FIGURES)
    assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", html), "HTML must not load scripts from the network"
    assert "| A | bloodmnist |" in (out / "phase_table.md").read_text()
    assert "_Data: synthetic twin of MedMNIST, scale" in (out / "phase_table.md").read_text()


def test_second_run_on_same_inputs_gives_same_bytes(cfg, phase_outputs, tmp_path):
    out = _run(cfg, phase_outputs, None)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _run(cfg, phase_outputs, None)
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert first.keys() == second.keys() and len(first) == len(FIGURES) + 3 + len(cfg.phases)
    assert [k for k in first if first[k] != second[k]] == []


def test_the_notebook_kernel_is_shut_down_when_the_stage_returns(cfg, phase_outputs):
    import psutil

    _run(cfg, phase_outputs, None)
    kernels = [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    assert psutil.wait_procs(kernels, timeout=10)[1] == []


def test_missing_phase_output_fails_loudly_and_keeps_the_old_report(cfg, phase_outputs, tmp_path):
    old = paths.analysis_dir(phase_outputs)
    old.mkdir(parents=True)
    (old / "previous.txt").write_text("kept")
    second = list(cfg.phases)[1]
    missing = paths.federated_dir(second, phase_outputs) / "rounds.tsv"
    missing.unlink()
    with pytest.raises(MissingOutputError) as err:
        _run(cfg, phase_outputs, tmp_path / "docs")
    assert str(missing) in str(err.value) and f"dvc repro federate@{second}" in str(err.value)
    assert (old / "previous.txt").read_text() == "kept"
    assert not (tmp_path / "docs").exists()
    assert not old.with_name(old.name + ".partial").exists()


def test_kernel_is_this_interpreter_whatever_specs_the_machine_has():
    from fedforge.analysis.report import _CurrentPythonKernels

    spec = _CurrentPythonKernels().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable and "ipykernel_launcher" in spec.argv


def test_parameters_go_right_after_the_tagged_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    tagged = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    inject_parameters(nb, OUT_DIR="x/y", PHASES={"A": {"dataset": "bloodmnist"}})
    assert nb.cells[tagged + 1].source.splitlines()[1:] == ["OUT_DIR = 'x/y'", "PHASES = {'A': {'dataset': 'bloodmnist'}}"]
    untagged = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("PHASES = None")])
    with pytest.raises(AnalysisError, match="tagged 'parameters'"):
        inject_parameters(untagged, PHASES={})
