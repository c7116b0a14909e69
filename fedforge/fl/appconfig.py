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
def _parse(config_json: str, repo_root: str) -> config.Config:
    if config_json:
        return config.parse(json.loads(config_json))
    return config.load(Path(repo_root) / "params.yaml")


def from_run_config(run_config: dict) -> tuple[config.Config, str, Path, str]:
    """(cfg, phase, repo_root, engine) from a run_config; a missing key is a clear error."""
    missing = [k for k in ("repo-root", "phase") if not run_config.get(k)]
    if missing:
        raise config.ConfigError(
            f"Flower run_config lacks {missing}; launch the apps through `fedforge federate` or pass "
            f"--run-config built by fedforge.fl.appconfig.app_config()")
    repo_root = str(run_config["repo-root"])
    cfg = _parse(str(run_config.get("config-json", "")), repo_root)
    return cfg, str(run_config["phase"]), Path(repo_root), str(run_config.get("engine", "local"))
