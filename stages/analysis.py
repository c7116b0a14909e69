"""DVC stage `analysis`: thin entry point; the work is fedforge.analysis.report.run_analysis (also `fedforge analysis`).

Writes artifacts/analysis/ (executed notebook, offline HTML, figures/*.png, phase_table.md) and refreshes
docs/figures/ (the README's convergence figure and phase table). First it checks that dvc.yaml declares every
phase of params.yaml as an input of this stage and a line of the top-level plots: DVC cannot loop over
`phases:` there, so a phase added to params.yaml must be added to dvc.yaml too, and this says so.
"""
import sys
from pathlib import Path

import yaml

from fedforge.cli import main


def undeclared_phase_inputs(dvc_yaml: dict, params: dict) -> list[str]:
    """Paths dvc.yaml should name for params' phases and datasets (analysis deps, plot lines) but does not."""
    deps = set(dvc_yaml["stages"]["analysis"]["deps"])
    wanted_deps = [f"artifacts/federated/{p}/{f}" for p in params["phases"] for f in ("rounds.tsv", "metrics.json")]
    wanted_deps += [f"artifacts/centralized/{ds}/metrics.json" for ds in params["data"]["datasets"]]
    missing = [d for d in wanted_deps if d not in deps]
    for plot in dvc_yaml["plots"]:
        name, props = next(iter(plot.items())) if isinstance(plot, dict) else (plot, None)
        if isinstance(props, dict) and isinstance(props.get("y"), dict):
            missing += [f"plots.{name}: {curve}" for p in params["phases"]
                        if (curve := f"artifacts/analysis/curves/{p}.tsv") not in props["y"]]
    return missing


if __name__ == "__main__":
    if missing := undeclared_phase_inputs(yaml.safe_load(Path("dvc.yaml").read_text()),
                                          yaml.safe_load(Path("params.yaml").read_text())):
        print(f"fedforge analysis: error: dvc.yaml does not declare {', '.join(missing)}; add each phase of "
              f"params.yaml to the analysis deps and the top-level plots", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(["analysis", *sys.argv[1:]]))
