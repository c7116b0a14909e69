"""Run controls (pause / resume / stop / start) through the run-state machine, each one audited."""
from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from fedforge.monitor.server.api.deps import LauncherDep, OriginDep, StoreDep, TokenDep
from fedforge.monitor.server.api.routes.runs import NOT_FOUND, get_run_or_404
from fedforge.monitor.server.core.launcher import PhaseBusy
from fedforge.monitor.server.core.runstate import InvalidTransition
from fedforge.monitor.server.models import AuditEntry, ControlResult, ControlVerb, Message

router = APIRouter(tags=["control"])


@router.post("/runs/{run_id}/control/{action}", response_model=ControlResult, dependencies=[TokenDep],
             responses={**NOT_FOUND, 401: {"model": Message, "description": "Missing or wrong bearer token"},
                        409: {"model": Message, "description": "Not allowed in the run's current state"},
                        503: {"model": Message, "description": "The phase could not be launched"}})
async def control(run_id: str, action: ControlVerb, store: StoreDep, launcher: LauncherDep,
                  origin: OriginDep) -> ControlResult:
    """pause: hold before the next round; resume; stop: checkpoint and exit non-zero; start: relaunch via DVC."""
    def relaunch(run: dict) -> None:
        if action == "start":  # a new run of the phase supersedes this one; if none ever starts, undo
            launcher.start(run["phase"], on_exit=lambda code: store.settle_relaunch(run_id, run["state"]))

    try:
        previous, state = await run_in_threadpool(store.control, run_id, action, origin, time.time(), relaunch)
    except KeyError:
        raise HTTPException(404, f"no run {run_id!r}; GET /api/runs lists the known runs") from None
    except (InvalidTransition, PhaseBusy) as exc:
        raise HTTPException(409, str(exc)) from None
    except OSError as exc:
        raise HTTPException(503, f"could not launch the phase: {exc}") from None
    return ControlResult(run_id=run_id, previous=previous, state=state)


@router.get("/runs/{run_id}/audit", response_model=list[AuditEntry], responses=NOT_FOUND)
def audit(run_id: str, store: StoreDep) -> list[AuditEntry]:
    """Every control action on the run, refused ones included, oldest first."""
    get_run_or_404(store, run_id)
    return [AuditEntry(**a) for a in store.audit(run_id)]
