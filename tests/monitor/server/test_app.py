"""The app shell: dashboard serving with SPA fallback, CORS, OpenAPI export."""
import json

import pytest
from fastapi.testclient import TestClient

from fedforge.monitor.server.app import create_app
from fedforge.monitor.server.openapi import export_openapi

from ..conftest import TOKEN


@pytest.fixture
def dist(tmp_path):
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text("<div id=root></div>")
    (d / "assets" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("no")
    return d


def test_dashboard_with_spa_fallback(db_path, dist):
    with TestClient(create_app(db_path, token=TOKEN, dashboard_dir=dist)) as client:
        assert client.get("/").text == "<div id=root></div>"
        assert client.get("/assets/app.js").text == "console.log(1)"
        assert client.get("/runs/abc/nodes").text == "<div id=root></div>"  # client-side route
        assert "no" != client.get("/../secret.txt").text
        assert client.get("/%2e%2e/secret.txt").text == "<div id=root></div>"
        assert client.get("/api/nope").status_code == 404
        assert client.get("/api/health").json()["status"] == "ok"


def test_without_a_built_dashboard_says_how_to_build_it(client):
    r = client.get("/")
    assert r.status_code == 200 and "npm --prefix dashboard" in r.text and "/api/docs" in r.text


def test_cors_only_for_the_dashboard_dev_origin(client):
    ok = client.options("/api/events", headers={"origin": "http://127.0.0.1:5173",
                                                 "access-control-request-method": "POST"})
    assert ok.headers.get("access-control-allow-origin") == "http://127.0.0.1:5173"
    bad = client.get("/api/runs", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in bad.headers


def test_openapi_export_is_complete(tmp_path):
    schema = json.loads(export_openapi(tmp_path / "openapi.json").read_text())
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
            assert ok, f"{method} {path} has no success response"
            for code, response in ok.items():
                if code != "204":
                    assert response["content"]["application/json"]["schema"], f"{method} {path}"
    names = set(schema["components"]["schemas"])
    assert {"RunSummary", "RunDetail", "NodeInfo", "RoundRow", "RunStarted", "Heartbeat", "AuditEntry"} <= names
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_trusted_hosts_refuse_dns_rebinding(db_path):
    app = create_app(db_path, token=TOKEN, allowed_hosts=("127.0.0.1", "localhost"))
    with TestClient(app, base_url="http://127.0.0.1:8090") as client:
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/health", headers={"host": "localhost:8090"}).status_code == 200
        assert client.get("/api/runs", headers={"host": "evil.example:8090"}).status_code == 400
