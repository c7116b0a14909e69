"""Runs as the dashboard sees them: summaries, one run with its rounds and nodes, its state."""
from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException

from fedforge.monitor.server.api.deps import SettingsDep, StoreDep
from fedforge.monitor.server.core.settings import Settings
from fedforge.monitor.server.models import Message, NodeInfo, RoundRow, RunDetail, RunStateOut, RunSummary

router = APIRouter(tags=["runs"])
NOT_FOUND = {404: {"model": Message, "description": "No such run"}}


FINISHED_STATES = ("completed", "stopped", "failed")


def liveness(last_seen: float | None, now: float, settings: Settings) -> str:
    """online / stale / lost by the age of the last event that proves the node alive."""
    age = now - last_seen if last_seen is not None else float("inf")
    return "online" if age < settings.stale_after else "stale" if age < settings.lost_after else "lost"


def liveness_clock(run: dict, now: float) -> float:
    """The time node ages are measured at: now while the run goes on; its end once it has finished, so a
    run finished long ago (or imported) shows which nodes were still there at the end, not "all lost"."""
    if run["state"] in FINISHED_STATES:
        end = run["finished_at"] or run["last_event_ts"]
        if end is not None:
            return min(end, now)
    return now


def get_run_or_404(store, run_id: str) -> dict:
    run = store.run(run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id!r}; GET /api/runs lists the known runs")
    return run


@router.get("/runs", response_model=list[RunSummary])
def list_runs(store: StoreDep) -> list[RunSummary]:
    """Every run the monitor has heard of, newest first."""
    return [RunSummary(**r) for r in store.runs()]


@router.get("/runs/{run_id}", response_model=RunDetail, responses=NOT_FOUND)
def run_detail(run_id: str, store: StoreDep, settings: SettingsDep) -> RunDetail:
    """One run with its per-round rows and its nodes (state, liveness, partition, per-round history)."""
    run = get_run_or_404(store, run_id)
    clock = liveness_clock(run, time.time())
    nodes = [NodeInfo(**n, liveness=liveness(n["last_seen"], clock, settings)) for n in store.nodes(run_id)]
    return RunDetail(**run, rounds=[RoundRow(**r) for r in store.rounds(run_id)], nodes=nodes)


@router.get("/runs/{run_id}/state", response_model=RunStateOut, responses=NOT_FOUND)
def run_state(run_id: str, store: StoreDep) -> RunStateOut:
    """The run's control state; the federation polls this between rounds (RunControl)."""
    return RunStateOut(run_id=run_id, state=get_run_or_404(store, run_id)["state"])
