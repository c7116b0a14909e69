"""The run_config both Flower apps receive: repo root, phase, engine and the validated config as JSON.

The apps never read files relative to their own location (the Deployment Engine installs them under
$FLWR_HOME/apps), so everything they need arrives here. Keys are documented in server_app.py.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from fedforge import config


def config_to_json(cfg: config.Config) -> str:
    """The validated config as JSON that `config.parse` turns back into the same Config."""
    return json.dumps(cfg.model_dump(), sort_keys=True)


def app_config(cfg: config.Config, phase: str, engine: str, repo_root: str | Path = ".") -> dict[str, str]:
    """run_config for the ServerApp/ClientApp of one phase (what run_deployment passes to `flwr run`)."""
    cfg.phase(phase)  # fail early, naming the phases that exist
    return {
        "repo-root": str(Path(repo_root).resolve()),
        "phase": phase,
        "engine": engine,
        "config-json": config_to_json(cfg),
    }


@functools.lru_cache(maxsize=4)
def _parse(config_json: str, params_file: str) -> config.Config:
    if config_json:
        return config.parse(json.loads(config_json))
    return config.load(Path(params_file))


def from_run_config(run_config: dict) -> tuple[config.Config, str, Path, str]:
    """(cfg, phase, repo_root, engine) from a run_config; a missing key is a clear error."""
    run_config = {**run_config}
    params = Path(str(run_config.get("params", "params.yaml")))
    if params.is_absolute() and not run_config.get("repo-root"):  # `flwr run .`: pyproject's config names only
        run_config["repo-root"] = str(params.parent)              # params.yaml and the phase
    missing = [k for k in ("repo-root", "phase") if not run_config.get(k)]
    if missing:
        raise config.ConfigError(
            f"Flower run_config lacks {missing}; launch the apps through `fedforge federate`, or from the "
            f"repository: flwr run . --run-config \"params='$PWD/params.yaml'\"")
    repo_root = str(run_config["repo-root"])
    params_file = Path(repo_root) / params
    cfg = _parse(str(run_config.get("config-json", "")), str(params_file))
    return cfg, str(run_config["phase"]), Path(repo_root), str(run_config.get("engine", "flwr-run"))
