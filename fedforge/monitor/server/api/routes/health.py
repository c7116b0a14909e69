"""Liveness of the monitor itself, and a token check for the dashboard's login."""
from __future__ import annotations

from fastapi import APIRouter, Response, status

from fedforge import __version__
from fedforge.monitor.server.api.deps import TokenDep
from fedforge.monitor.server.models import Health, Message

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """The monitor is up; which FedForge version it is."""
    return Health(version=__version__)


@router.get("/auth/check", status_code=status.HTTP_204_NO_CONTENT, dependencies=[TokenDep],
            responses={401: {"model": Message, "description": "Missing or wrong bearer token"}})
def auth_check() -> Response:
    """204 when the bearer token is right: the dashboard validates a pasted token once with this."""
    return Response(status_code=status.HTTP_204_NO_CONTENT)
