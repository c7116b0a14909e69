"""Convergence analysis of the federated phases: load (read outputs, fail loudly), plots (figures and
tables), report (the `analysis` stage: execute the notebook headless, export HTML), vega_offline (the
offline page for `dvc plots show`)."""
