"""WebSocket /api/ws?run_id=&since=: first the stored events after `since`, then live ones, in seq order."""
from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from fedforge.monitor.server.core.pubsub import OVERFLOW

router = APIRouter(tags=["ws"])
PAGE = 1000


def origin_allowed(websocket: WebSocket) -> bool:
    """Browsers send Origin: allow our own page and the dashboard dev server (CORS does not cover WS)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser (telemetry tools, tests)
    settings = websocket.app.state.settings
    return origin in settings.cors_origins or urlparse(origin).netloc == websocket.headers.get("host")


async def _stream(websocket: WebSocket, run_id: str, since: int) -> None:
    store, broadcaster = websocket.app.state.store, websocket.app.state.broadcaster
    queue = broadcaster.subscribe(run_id)  # before the catch-up read, so nothing falls in between
    try:
        last = since
        while True:
            page = await run_in_threadpool(store.events_since, run_id, last, PAGE)
            for seq, body in page:
                await websocket.send_text(body)
                last = seq
            if len(page) < PAGE:
                break
        while True:
            seq, body = await queue.get()
            if (seq, body) == OVERFLOW:
                await websocket.close(code=1013, reason=f"fell behind; reconnect with since={last}")
                return
            if seq <= last:
                continue  # already sent during catch-up
            await websocket.send_text(body)
            last = seq
    finally:
        broadcaster.unsubscribe(run_id, queue)


async def _until_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass  # the stream is one-way; anything the client sends is ignored


@router.websocket("/ws")
async def events_ws(websocket: WebSocket,
                    run_id: Annotated[str, Query(min_length=1, description="Run to follow")],
                    since: Annotated[int, Query(ge=-1, description="Last seq the client has; -1 = all")] = -1):
    """Push the run's events as JSON text messages, one event per message."""
    if not origin_allowed(websocket):
        await websocket.close(code=1008, reason="origin not allowed")
        return
    await websocket.accept()
    tasks = [asyncio.create_task(_stream(websocket, run_id, since)),
             asyncio.create_task(_until_disconnect(websocket))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    for task in done:
        exc = task.exception()
        if exc is not None and not isinstance(exc, WebSocketDisconnect):
            raise exc
