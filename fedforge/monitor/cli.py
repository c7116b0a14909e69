"""`fedforge monitor`: serve the API, WebSocket and dashboard; `fedforge monitor token` prints the token."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from fedforge import paths

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `fedforge monitor [token]`."""
    parser.add_argument("action", nargs="?", choices=["serve", "token"], default="serve",
                        help="serve (default): run the monitor; token: print the bearer token for writes")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8090, help="TCP port (default: 8090)")
    parser.add_argument("--db", type=Path, default=paths.monitor_db(),
                        help=f"SQLite database; the token file sits beside it (default: {paths.monitor_db()})")
    parser.add_argument("--dashboard", type=Path, default=Path("dashboard/dist"),
                        help="built dashboard served at / when present (default: dashboard/dist)")


def main(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the process exit code."""
    from fedforge.monitor.security import ensure_token, token_path

    if args.action == "token":
        token, created = ensure_token(args.db)
        if created:
            log.info("no token yet: created %s (mode 0600)", token_path(args.db))
        print(token)
        return 0

    import uvicorn

    from fedforge.monitor.app import create_app
    from fedforge.monitor.core.settings import LOOPBACK_HOSTS

    token, created = ensure_token(args.db)
    if created:
        # Printed once, on the start that created it; `fedforge monitor token` shows it again.
        print(f"FedForge monitor token (stored in {token_path(args.db)}, mode 0600):\n  {token}", flush=True)
    # Phases launched from the dashboard report back here whatever params.yaml's monitor.url says.
    public_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    loopback = args.host in ("127.0.0.1", "localhost")
    app = create_app(args.db, dashboard_dir=args.dashboard, token=token,
                     public_url=f"http://{public_host}:{args.port}",
                     allowed_hosts=LOOPBACK_HOSTS if loopback else None)
    log.info("monitor on http://%s:%d (db %s)", args.host, args.port, args.db)
    # Events are small JSON messages: per-message deflate would cost CPU per message per subscriber.
    # One access-log line per telemetry batch and dashboard poll is noise unless asked for (`fedforge -v`).
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=getattr(args, "verbose", False),
                ws="websockets-sansio", ws_per_message_deflate=False)
    return 0
