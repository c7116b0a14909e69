"""Property-based API testing from the OpenAPI schema (schemathesis over ASGI): no input gives a 5xx,
and every response matches its documented schema. Runs with and without the bearer token."""
import os
import shutil
import sys
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from fedforge.monitor.server.app import create_app

from ..conftest import AUTH, TOKEN

REPO = Path(__file__).resolve().parents[3]
CASES = {"count": 0}
EXAMPLES = int(os.environ.get("FEDFORGE_SCHEMATHESIS_EXAMPLES", "25"))  # per operation and auth mode


def _app(tmp: Path):
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "params.yaml", tmp / "params.yaml")
    return create_app(tmp / "monitor.db", token=TOKEN, repo_root=tmp,
                      phase_command=(sys.executable, "-c", "pass"))  # never launch a real phase from fuzzing


def _schema():
    import tempfile
    app = _app(Path(tempfile.mkdtemp(prefix="fedforge-schemathesis-")))
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


schema = _schema()


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.parametrize("auth", [True, False], ids=["token", "no-token"])
def test_api_never_5xx(case, auth):
    CASES["count"] += 1
    case.call_and_validate(headers=AUTH if auth else {},
                           checks=[not_a_server_error, response_schema_conformance, status_code_conformance])


def teardown_module(module):
    print(f"\nschemathesis: {CASES['count']} generated cases run")
