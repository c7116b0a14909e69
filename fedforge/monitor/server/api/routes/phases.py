"""Phases from params.yaml, launching one through DVC, and the final metrics of every phase and baseline."""
from __future__ import annotations

import json
import logging

from fastapi import APIRouter, HTTPException

from fedforge import config
from fedforge.monitor.client.events import GlobalMetrics
from fedforge.monitor.server.api.deps import LauncherDep, OriginDep, SettingsDep, StoreDep, TokenDep
from fedforge.monitor.server.core.launcher import PhaseBusy
from fedforge.monitor.server.models import Comparison, ComparisonEntry, Message, PhaseInfo, PhaseLaunch, PrivacyReport

router = APIRouter(tags=["phases"])
log = logging.getLogger(__name__)
CONFIG_ERROR = {503: {"model": Message, "description": "params.yaml is missing or invalid"}}


def load_config(settings):
    try:
        return config.load(settings.params_path)
    except (config.ConfigError, FileNotFoundError) as exc:
        raise HTTPException(503, f"cannot read {settings.params_path}: {exc}") from None


@router.get("/phases", response_model=list[PhaseInfo], responses=CONFIG_ERROR)
def list_phases(store: StoreDep, settings: SettingsDep, launcher: LauncherDep) -> list[PhaseInfo]:
    """The phases params.yaml defines, with the latest run of each and whether one is running."""
    cfg = load_config(settings)
    latest: dict[str, dict] = {}
    for run in store.runs():  # newest first
        latest.setdefault(run["phase"], run)
    running = launcher.running_phase()
    return [PhaseInfo(phase=name, dataset=p.dataset, strategy=p.strategy, rounds=p.rounds,
                      latest_run_id=latest.get(name, {}).get("run_id"), latest_state=latest.get(name, {}).get("state"),
                      launched=running == name)
            for name, p in cfg.phases.items()]


@router.post("/phases/{phase}/start", response_model=PhaseLaunch, dependencies=[TokenDep],
             responses={**CONFIG_ERROR, 401: {"model": Message, "description": "Missing or wrong bearer token"},
                        404: {"model": Message, "description": "No such phase in params.yaml"},
                        409: {"model": Message, "description": "A launched phase is still running"}})
def start_phase(phase: str, settings: SettingsDep, launcher: LauncherDep, origin: OriginDep) -> PhaseLaunch:
    """Run `dvc repro federate@<phase>` in the repository root, so DVC tracks (and caches) its results."""
    cfg = load_config(settings)
    if phase not in cfg.phases:
        raise HTTPException(404, f"no phase {phase!r}; params.yaml defines {sorted(cfg.phases)}")
    try:
        launch = launcher.start(phase)
    except PhaseBusy as exc:
        raise HTTPException(409, str(exc)) from None
    except OSError as exc:
        raise HTTPException(503, f"could not launch {phase}: {exc}") from None
    log.info("phase %s started by %s: %s (pid %d)", phase, origin, " ".join(launch.command), launch.process.pid)
    return PhaseLaunch(phase=phase, pid=launch.process.pid, command=launch.command, started_at=launch.started_at,
                       log_path=str(launch.log_path))


def _entry(kind: str, name: str, path, data: dict) -> ComparisonEntry:
    def metrics(key: str) -> GlobalMetrics:
        values = data.get(key) if isinstance(data.get(key), dict) else {}
        return GlobalMetrics(**{k: values.get(k) for k in GlobalMetrics.model_fields if
                                isinstance(values.get(k), (int, float))})

    rounds = data.get("rounds")
    return ComparisonEntry(kind=kind, name=name, dataset=data.get("dataset", name if kind == "centralized" else None),
                           strategy=data.get("strategy"), data_source=data.get("data_source"),
                           rounds=rounds if isinstance(rounds, int) else None, test=metrics("test"),
                           val=metrics("val"), path=str(path),
                           privacy=PrivacyReport(**data["privacy"]) if isinstance(data.get("privacy"), dict) else None)


@router.get("/comparison", response_model=Comparison)
def comparison(settings: SettingsDep) -> Comparison:
    """Final metrics.json of every federated phase and every centralized baseline found in artifacts/."""
    out = Comparison()
    for kind, target in (("federated", out.federated), ("centralized", out.centralized)):
        for path in sorted((settings.artifacts_path / kind).glob("*/metrics.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                log.warning("comparison: skipping unreadable %s: %s", path, exc)
                continue
            if isinstance(data, dict):
                target.append(_entry(kind, path.parent.name, path.relative_to(settings.repo_root), data))
    return out
