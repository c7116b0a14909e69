"""create_app(): the monitor's FastAPI application (API under /api, the built dashboard at /)."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from fedforge import __version__
from fedforge.monitor.client.endpoint import remove_endpoint, write_endpoint
from fedforge.monitor.client.token import TOKEN_ENV, ensure_token
from fedforge.monitor.server.api.main import api_router
from fedforge.monitor.server.core.db import Store
from fedforge.monitor.server.core.launcher import PhaseLauncher
from fedforge.monitor.server.core.pubsub import Broadcaster
from fedforge.monitor.server.core.settings import Settings

log = logging.getLogger(__name__)

NO_DASHBOARD = """<!doctype html><title>FedForge monitor</title>
<h1>FedForge monitor</h1><p>The dashboard is not built ({path} has no index.html).
Build it with <code>npm --prefix dashboard ci && npm --prefix dashboard run build</code> (or <code>make setup</code>).
The API is live: <a href="/api/docs">/api/docs</a>.</p>"""


class BodyLimitMiddleware:
    """413 for request bodies above the limit, by Content-Length or by counting a chunked body."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._reject(scope, receive, send)
        if length is not None:
            return await self.app(scope, receive, send)
        messages, size = [], 0  # no length given: buffer (at most max_bytes) and replay
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await self._reject(scope, receive, send)
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()
        return await self.app(scope, replay, send)

    async def _reject(self, scope, receive, send):
        detail = f"request body larger than {self.max_bytes} bytes; send fewer events per batch"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with FastAPI's per-field `detail` list plus one readable line naming each bad field."""
    errors = jsonable_encoder(exc.errors(), custom_encoder={bytes: lambda b: b.decode("utf-8", "replace")})
    message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
    return JSONResponse({"detail": errors, "message": message}, status_code=422)


def _mount_dashboard(app: FastAPI, dist: Path | None) -> None:
    @app.get("/{path:path}", include_in_schema=False)
    def dashboard(path: str):
        if path == "api" or path.startswith("api/"):
            raise HTTPException(404, f"no API route /{path}; see /api/docs")
        if dist is None or not (dist / "index.html").is_file():
            return HTMLResponse(NO_DASHBOARD.format(path=dist), status_code=200 if not path else 404)
        root = dist.resolve()
        target = (root / path).resolve()
        if path and target.is_file() and target.is_relative_to(root):
            return FileResponse(target)
        return FileResponse(root / "index.html")  # SPA fallback: client-side routes load the app


def create_app(db_path: str | Path, *, token: str | None = None, dashboard_dir: str | Path | None = None,
               repo_root: str | Path = ".", **settings) -> FastAPI:
    """Build the monitor app on the DB at `db_path` (created on first use, token file beside it)."""
    if token is None:
        token, created = ensure_token(db_path)
        if created:
            log.info("created the monitor token beside %s (or set %s)", db_path, TOKEN_ENV)
    cfg = Settings(db_path=Path(db_path), token=token, repo_root=Path(repo_root),
                   dashboard_dir=Path(dashboard_dir) if dashboard_dir else None, **settings)
    store = Store(cfg.db_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store.open()  # reopens after an earlier shutdown of the same app object (tests, schemathesis)
        yield
        store.close()

    app = FastAPI(title="FedForge monitor", version=__version__, lifespan=lifespan,
                  description="Telemetry, run control and phase comparison for FedForge federated runs.",
                  docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.state.settings = cfg
    app.state.store = store
    app.state.broadcaster = Broadcaster(cfg.ws_queue_size)
    env = {"FEDFORGE_MONITOR_TOKEN": cfg.token, **({"FEDFORGE_MONITOR_URL": cfg.public_url} if cfg.public_url else {})}
    app.state.launcher = PhaseLauncher(cfg.phase_command, cfg.repo_root, cfg.db_path.parent, env)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(CORSMiddleware, allow_origins=list(cfg.cors_origins), allow_methods=["GET", "POST"],
                       allow_headers=["authorization", "content-type"])
    app.add_middleware(BodyLimitMiddleware, max_bytes=cfg.max_body_bytes)
    if cfg.allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(cfg.allowed_hosts))
    app.include_router(api_router, prefix="/api")
    _mount_dashboard(app, cfg.dashboard_dir)
    return app


class AnnouncedServer(uvicorn.Server):
    """uvicorn server that writes endpoint.json beside the DB once it listens (phases with monitor.url auto
    find it there) and removes it as it shuts down (before uvicorn re-raises a SIGTERM that ends the process)."""

    def __init__(self, config: uvicorn.Config, db_path: Path, url: str):
        super().__init__(config)
        self.db_path, self.url = db_path, url

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:  # the port is bound: a phase that reads the file can connect at once
            log.info("announced %s in %s", self.url, write_endpoint(self.db_path, self.url))

    async def shutdown(self, sockets=None) -> None:
        remove_endpoint(self.db_path)
        await super().shutdown(sockets)
