"""Every write route refuses a request without the right bearer token, and changes nothing."""
import pytest

from ....conftest import make_event

WRITES = [
    ("post", "/api/events", {"events": [make_event("heartbeat", 5)]}),
    ("post", "/api/runs/run-1/control/pause", None),
    ("post", "/api/runs/run-1/control/stop", None),
    ("post", "/api/runs/run-1/control/resume", None),
    ("post", "/api/runs/run-1/control/start", None),
    ("post", "/api/phases/A/start", None),
    ("get", "/api/auth/check", None),
]


def test_every_write_route_is_listed(app):
    """If a write route is added, it must be added to WRITES too (and so be tested for the token)."""
    schema = app.openapi()
    secured = {(m, p) for p, ops in schema["paths"].items() for m, op in ops.items() if op.get("security")}
    listed = {(m, p.replace("run-1", "{run_id}").replace("/A/", "/{phase}/")) for m, p, _ in WRITES}
    listed = {(m, p.replace("control/pause", "control/{action}").replace("control/stop", "control/{action}")
               .replace("control/resume", "control/{action}").replace("control/start", "control/{action}"))
              for m, p in listed}
    writes = {(m, p) for p, ops in schema["paths"].items() for m in ops if m in ("post", "put", "patch", "delete")}
    assert writes <= secured and secured == listed


@pytest.mark.parametrize("method,path,body", WRITES)
@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer nope"}, {"authorization": "test-token"}])
def test_write_needs_token(client, started_run, method, path, body, headers):
    r = client.request(method, path, json=body, headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/runs/run-1/state").json()["state"] == "running"
    assert [e["seq"] for e in client.get("/api/runs/run-1/events").json()] == [0]
    assert client.get("/api/runs/run-1/audit").json() == []
