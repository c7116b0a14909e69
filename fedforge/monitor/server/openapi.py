"""Export the monitor's OpenAPI schema: the dashboard generates its TypeScript types from this file.

    python -m fedforge.monitor.server.openapi dashboard/openapi.json
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from fedforge.io import write_json


def openapi_schema() -> dict:
    """The schema of a throwaway app (temporary DB and token): identical for every installation."""
    from fedforge.monitor.server.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Path(tmp) / "monitor.db", token="export")
        schema = app.openapi()
        app.state.store.close()
    return schema


def export_openapi(path: str | Path) -> Path:
    """Write the schema as JSON (atomically) and return the path."""
    return write_json(path, openapi_schema())


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    print(export_openapi(sys.argv[1]))
