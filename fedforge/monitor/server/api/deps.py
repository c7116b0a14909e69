"""Typed dependencies shared by the routes (FastAPI `Annotated[..., Depends()]` style)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from fedforge.monitor.server.core.auth import bearer, check_token
from fedforge.monitor.server.core.db import Store
from fedforge.monitor.server.core.launcher import PhaseLauncher
from fedforge.monitor.server.core.pubsub import Broadcaster
from fedforge.monitor.server.core.settings import Settings


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_broadcaster(request: Request) -> Broadcaster:
    return request.app.state.broadcaster


def get_launcher(request: Request) -> PhaseLauncher:
    return request.app.state.launcher


def require_token(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    check_token(request, credentials)


def request_origin(request: Request) -> str:
    """Who asked, for the audit log: client address and user agent."""
    host = f"{request.client.host}:{request.client.port}" if request.client else "unknown"
    return f"{host} {request.headers.get('user-agent', '-')}"[:300]


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BroadcasterDep = Annotated[Broadcaster, Depends(get_broadcaster)]
LauncherDep = Annotated[PhaseLauncher, Depends(get_launcher)]
OriginDep = Annotated[str, Depends(request_origin)]
TokenDep = Depends(require_token)

