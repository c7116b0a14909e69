import json

import pytest

from ....conftest import AUTH, make_event, post_events


def test_ingest_counts_accepted_and_duplicates(client):
    events = [make_event("run_started", 0), make_event("round_started", 1)]
    assert post_events(client, *events).json() == {"accepted": 2, "duplicates": 0}
    again = post_events(client, *events, make_event("heartbeat", 2))
    assert again.status_code == 200 and again.json() == {"accepted": 1, "duplicates": 2}
    seqs = [e["seq"] for e in client.get("/api/runs/run-1/events").json()]
    assert seqs == [0, 1, 2]


def test_empty_batch_is_fine(client):
    assert post_events(client).json() == {"accepted": 0, "duplicates": 0}


@pytest.mark.parametrize("bad,field,why", [
    ({"round": 0}, "round", "greater than or equal to 1"),
    ({"seq": -1}, "seq", "greater than or equal to 0"),
    ({"run_id": ""}, "run_id", "at least 1 character"),
    ({"clients": "client_0"}, "clients", "valid list"),
    ({"unknown_field": 1}, "unknown_field", "Extra inputs are not permitted"),
])
def test_validation_names_the_field_and_why(client, bad, field, why):
    r = post_events(client, {**make_event("round_started", 0), **bad})
    assert r.status_code == 422
    body = r.json()
    assert any(err["loc"][-1] == field and why in err["msg"] for err in body["detail"]), body
    assert f"{field}: " in body["message"] and why in body["message"]


def test_count_too_large_for_sqlite_is_422_not_500(client):
    # found by schemathesis: an integer above SQLite's 2**63-1 used to fail at write time with a 500
    r = post_events(client, make_event("round_completed", 0, bytes_up=2**73))
    assert r.status_code == 422 and "bytes_up" in r.json()["message"]
    assert client.get("/api/runs").json() == []


def test_unknown_event_type_is_422(client):
    r = post_events(client, {**make_event("heartbeat", 0), "type": "party"})
    assert r.status_code == 422 and "type" in r.json()["message"]


def test_missing_field_is_422(client):
    event = make_event("round_started", 0)
    del event["clients"]
    r = post_events(client, event)
    assert r.status_code == 422 and "clients: Field required" in r.json()["message"]


def test_malformed_json_is_422(client):
    r = client.post("/api/events", content=b"{not json", headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 422


def test_too_many_events_is_422(client):
    events = [make_event("heartbeat", i) for i in range(5001)]
    r = client.post("/api/events", content=json.dumps({"events": events}),
                    headers={**AUTH, "content-type": "application/json"})
    assert len(r.request.content) < 1024 * 1024  # the count limit bites, not the size limit
    assert r.status_code == 422 and "at most 5000 items" in r.json()["message"]


def test_oversized_body_is_413(client):
    body = json.dumps({"events": [make_event("client_failed", 0, error="x" * 4000)] * 300})
    assert len(body) > 1024 * 1024
    r = client.post("/api/events", content=body, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 413 and "1048576 bytes" in r.json()["detail"]
    assert client.get("/api/runs").json() == []


def test_chunked_oversized_body_is_413(client):
    def chunks():
        for _ in range(40):
            yield b" " * 32768
    r = client.post("/api/events", content=chunks(), headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 413


def test_chunked_small_body_passes(client):
    body = json.dumps({"events": [make_event("heartbeat", 0)]}).encode()
    r = client.post("/api/events", content=iter([body[:10], body[10:]]),
                    headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_events_since_and_limit(client):
    post_events(client, *[make_event("heartbeat", i) for i in range(6)])
    assert [e["seq"] for e in client.get("/api/runs/run-1/events?since=2").json()] == [3, 4, 5]
    assert [e["seq"] for e in client.get("/api/runs/run-1/events?since=-1&limit=2").json()] == [0, 1]
    assert client.get("/api/runs/run-1/events?since=-5").status_code == 422
    assert client.get("/api/runs/nope/events").status_code == 404


def test_events_round_trip_unchanged(client):
    event = make_event("client_update", 0, metrics={"acc": 0.75})
    post_events(client, event)
    (back,) = client.get("/api/runs/run-1/events").json()
    assert back["metrics"] == {"acc": 0.75} and back["ts"] == event["ts"] and back["type"] == "client_update"
