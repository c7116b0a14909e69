"""Flower ServerApp: runs one federated phase. Thin: the round loop and outputs live in fedforge/fl/server.py.

run_config keys (both apps; build them with fedforge.fl.appconfig.app_config(cfg, phase, engine)):
  "repo-root"   absolute path of the repository; artifacts/ paths are relative to it
  "phase"       phase name from params.yaml (A, B, C ...)
  "engine"      "local" | "deployment" (recorded in metrics.json and telemetry)
  "config-json" the validated params as JSON (fedforge.config.parse reads it); "" = <repo-root>/params.yaml
The ServerApp writes every output of the phase itself (artifacts/federated/<phase>/, artifacts/checkpoints/<phase>/).
"""
from __future__ import annotations

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedforge.fl.server import run_server

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Resume or start the phase, run its strategy over the grid's clients, write outputs."""
    run_server(grid, context)
