"""All API routers, mounted by create_app() under /api."""
from __future__ import annotations

from fastapi import APIRouter

from fedforge.monitor.server.api.routes import control, events, health, phases, runs, ws

api_router = APIRouter()
for module in (health, events, runs, control, phases, ws):
    api_router.include_router(module.router)
