"""`fedforge monitor`: serve the API, WebSocket and dashboard; `token` prints the token; `import` loads
recorded runs (artifacts/federated/<phase>/events.jsonl written while no monitor ran) into the DB."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fedforge import paths

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `fedforge monitor [serve | token | import [PATH ...]]`."""
    parser.add_argument("action", nargs="?", choices=["serve", "token", "import"], default="serve",
                        help="serve (default): run the monitor (importing recorded runs first); token: print the "
                             "bearer token for writes; import: load events.jsonl files into the DB")
    parser.add_argument("files", nargs="*", type=Path, metavar="PATH",
                        help="import only: events.jsonl files (default: every "
                             "artifacts/federated/*/events.jsonl under the current folder)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8090, help="TCP port (default: 8090)")
    parser.add_argument("--db", type=Path, default=paths.monitor_db(),
                        help=f"SQLite database; the token file sits beside it (default: {paths.monitor_db()})")
    parser.add_argument("--dashboard", type=Path, default=Path("dashboard/dist"),
                        help="built dashboard served at / when present (default: dashboard/dist)")
    parser.add_argument("--no-import", dest="import_recorded", action="store_false",
                        help="serve without first importing artifacts/federated/*/events.jsonl")


def main(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the process exit code."""
    from fedforge.monitor.client.token import ensure_token, token_path

    if args.files and args.action != "import":
        print(f"fedforge monitor {args.action}: unexpected PATH arguments {[str(f) for f in args.files]}; "
              "only `fedforge monitor import PATH ...` takes files", file=sys.stderr)
        return 2
    if args.action == "import":
        return import_files(args.db, args.files)
    if args.action == "token":
        token, created = ensure_token(args.db)
        if created:
            log.info("no token yet: created %s (mode 0600)", token_path(args.db))
        print(token)
        return 0

    import uvicorn

    from fedforge.monitor.client.endpoint import remove_endpoint
    from fedforge.monitor.server.app import AnnouncedServer, create_app
    from fedforge.monitor.server.core.importer import import_recorded, recorded_event_files
    from fedforge.monitor.server.core.settings import LOOPBACK_HOSTS

    token, created = ensure_token(args.db)
    if created:
        # Printed once, on the start that created it; `fedforge monitor token` shows it again.
        print(f"FedForge monitor token (stored in {token_path(args.db)}, mode 0600):\n  {token}", flush=True)
    # Phases launched from the dashboard report back here whatever params.yaml's monitor.url says.
    public_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    url = f"http://{public_host}:{args.port}"
    loopback = args.host in ("127.0.0.1", "localhost")
    app = create_app(args.db, dashboard_dir=args.dashboard, token=token, public_url=url,
                     allowed_hosts=LOOPBACK_HOSTS if loopback else None)
    if args.import_recorded:  # runs recorded while no monitor ran show up too; a bad file is skipped
        import_recorded(app.state.store, recorded_event_files())
    log.info("monitor on http://%s:%d (db %s)", args.host, args.port, args.db)
    # Events are small JSON messages: per-message deflate would cost CPU per message per subscriber.
    # One access-log line per telemetry batch and dashboard poll is noise unless asked for (`fedforge -v`).
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="info",
                            access_log=getattr(args, "verbose", False), ws="websockets-sansio",
                            ws_per_message_deflate=False)
    server = AnnouncedServer(config, args.db, url)  # announces itself in endpoint.json for monitor.url: auto
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        remove_endpoint(args.db)
    if not server.started:
        log.error("monitor did not start on %s:%d (port in use? try --port)", args.host, args.port)
    return 0 if server.started else 1


def import_files(db: Path, files: list[Path]) -> int:
    """`fedforge monitor import`: ingest each file, print its counts; exit 1 if any file could not be imported."""
    from fedforge.monitor.server.core.db import Store
    from fedforge.monitor.server.core.importer import EventsFileError, import_file, recorded_event_files

    files = files or recorded_event_files()
    if not files:
        print("fedforge monitor import: no artifacts/federated/*/events.jsonl here; run from the repository root "
              "or name the files", file=sys.stderr)
        return 1
    store, failed = Store(db), 0
    try:
        for path in files:
            try:
                result = import_file(store, path)
            except EventsFileError as exc:
                print(f"fedforge monitor import: error: {exc}", file=sys.stderr)
                failed += 1
                continue
            print(f"{path}: {result.accepted} accepted, {result.duplicates} duplicates")
    finally:
        store.close()
    return 1 if failed else 0

