"""DVC stage `analysis`: execute notebooks/convergence_analysis.ipynb on every phase's outputs.

Writes artifacts/analysis/ (executed notebook, offline HTML, figures/*.png, phase_table.md) and refreshes
docs/figures/ (the README's convergence figure and phase table). Same as `fedforge analysis`.
"""
import argparse
import logging
import sys

from fedforge.cli import run_stage


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_stage("analysis", args.params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
