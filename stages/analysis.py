"""DVC stage `analysis`: thin entry point; the work is fedforge.analysis.report.run_analysis (also `fedforge analysis`).

Writes artifacts/analysis/ (executed notebook, offline HTML, figures/*.png, phase_table.md) and refreshes
docs/figures/ (the README's convergence figure and phase table).
"""
import sys

from fedforge.cli import main

if __name__ == "__main__":
    sys.exit(main(["analysis", *sys.argv[1:]]))
