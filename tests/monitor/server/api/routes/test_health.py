from fedforge import __version__

from ....conftest import AUTH


def test_health(client):
    assert client.get("/api/health").json() == {"status": "ok", "version": __version__}


def test_auth_check(client):
    assert client.get("/api/auth/check", headers=AUTH).status_code == 204
    assert client.get("/api/auth/check").status_code == 401
    r = client.get("/api/auth/check", headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401 and "wrong bearer token" in r.json()["detail"]
    assert client.get("/api/auth/check", headers={"authorization": "Basic dGVzdA=="}).status_code == 401
