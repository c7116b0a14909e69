"""Telemetry ingest (batched, idempotent on run_id + seq) and the event log of a run."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool

from fedforge.monitor.client.events import Event
from fedforge.monitor.server.api.deps import BroadcasterDep, StoreDep, TokenDep
from fedforge.monitor.server.models import EventBatch, IngestResult, Message

router = APIRouter(tags=["events"])


@router.post("/events", response_model=IngestResult, dependencies=[TokenDep],
             responses={400: {"model": Message, "description": "Body is not decodable JSON text"},
                        401: {"model": Message, "description": "Missing or wrong bearer token"},
                        413: {"model": Message, "description": "Body larger than 1 MiB"}})
async def ingest(batch: EventBatch, store: StoreDep, broadcaster: BroadcasterDep) -> IngestResult:
    """Store a batch of events; an event already stored (same run_id and seq) is counted, not stored again."""
    stored, duplicates = await run_in_threadpool(store.ingest, batch.events)
    broadcaster.publish(stored)  # on the event loop, after the commit: subscribers only see stored events
    return IngestResult(accepted=len(stored), duplicates=duplicates)


@router.get("/runs/{run_id}/events", response_model=list[Event],
            responses={404: {"model": Message, "description": "No such run"}})
def run_events(run_id: str, store: StoreDep,
               since: Annotated[int, Query(ge=-1, description="Return events with seq > since")] = -1,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Response:
    """The run's events with seq > since, in seq order (at most `limit`)."""
    if store.run(run_id) is None:
        raise HTTPException(404, f"no run {run_id!r}; GET /api/runs lists the known runs")
    bodies = [body for _, body in store.events_since(run_id, since, limit)]
    # Stored bodies are validated event JSON already: pass them through instead of re-serialising.
    return Response("[" + ",".join(bodies) + "]", media_type="application/json")
