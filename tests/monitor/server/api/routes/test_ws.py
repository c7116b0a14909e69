import pytest
from starlette.websockets import WebSocketDisconnect

from ....conftest import make_event, post_events


def seqs(ws, n):
    return [ws.receive_json()["seq"] for _ in range(n)]


def test_catch_up_then_live_in_order(client):
    post_events(client, *[make_event("heartbeat", i) for i in range(5)])
    with client.websocket_connect("/api/ws?run_id=run-1") as ws:
        assert seqs(ws, 5) == [0, 1, 2, 3, 4]
        post_events(client, make_event("heartbeat", 5), make_event("heartbeat", 6))
        post_events(client, make_event("heartbeat", 6), make_event("heartbeat", 7))  # 6 is a duplicate
        assert seqs(ws, 2) == [5, 6]
        assert ws.receive_json()["seq"] == 7


def test_reconnect_with_since_gets_exactly_what_was_missed(client):
    post_events(client, *[make_event("heartbeat", i) for i in range(3)])
    with client.websocket_connect("/api/ws?run_id=run-1&since=-1") as ws:
        got = seqs(ws, 3)
    post_events(client, *[make_event("heartbeat", i) for i in range(3, 8)])  # missed while away
    with client.websocket_connect(f"/api/ws?run_id=run-1&since={got[-1]}") as ws:
        assert seqs(ws, 5) == [3, 4, 5, 6, 7]
        post_events(client, make_event("heartbeat", 8))
        assert ws.receive_json()["seq"] == 8


def test_only_the_subscribed_run(client):
    with client.websocket_connect("/api/ws?run_id=run-2") as ws:
        post_events(client, make_event("heartbeat", 0, run_id="run-1"), make_event("heartbeat", 0, run_id="run-2"))
        assert ws.receive_json()["run_id"] == "run-2"


def test_catch_up_larger_than_a_page(client):
    post_events(client, *[make_event("heartbeat", i) for i in range(2500)])
    with client.websocket_connect("/api/ws?run_id=run-1&since=10") as ws:
        assert seqs(ws, 2489) == list(range(11, 2500))


def test_subscriber_unregistered_on_disconnect(client, app):
    with client.websocket_connect("/api/ws?run_id=run-1"):
        post_events(client, make_event("heartbeat", 0))
    post_events(client, make_event("heartbeat", 1))
    assert app.state.broadcaster.subscribers() == 0


def test_foreign_origin_refused(client):
    evil = {"origin": "http://evil.example"}
    with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect("/api/ws?run_id=run-1", headers=evil) as ws:
        ws.receive_json()
    assert exc.value.code == 1008
    with client.websocket_connect("/api/ws?run_id=run-1", headers={"origin": "http://localhost:5173"}) as ws:
        post_events(client, make_event("heartbeat", 0))
        assert ws.receive_json()["seq"] == 0


def test_run_id_required(client):
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/api/ws") as ws:
        ws.receive_json()


def test_slow_subscriber_is_told_to_reconnect(db_path, tmp_path):
    from fastapi.testclient import TestClient

    from fedforge.monitor.server.app import create_app
    app = create_app(db_path, token="test-token", repo_root=tmp_path, ws_queue_size=3)
    with TestClient(app) as client, client.websocket_connect("/api/ws?run_id=run-1") as ws:
        # one event received live = the route is past its catch-up read and waiting on its queue (else the
        # catch-up could read every event from the DB first and the overflow would cut nothing off)
        post_events(client, make_event("heartbeat", 0))
        got = [ws.receive_json()["seq"]]
        post_events(client, *[make_event("heartbeat", i) for i in range(1, 11)])  # 10 at once, 3 slots
        with pytest.raises(WebSocketDisconnect) as exc:
            while True:
                got.append(ws.receive_json()["seq"])
        # cut off after at most the 3 queued (one fewer if the route had not yet dropped its copy of seq 0)
        assert exc.value.code == 1013 and got in ([0, 1, 2, 3], [0, 1, 2])
