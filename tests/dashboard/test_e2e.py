"""The built dashboard against a real monitor in headless Debian Chromium (Playwright, no browser download).

Each test starts `fedforge monitor` on a free port with a fresh DB, feeds it events of a recorded phase
(fixtures/phase_a_events.jsonl) like the federation's telemetry would, and drives the page.
Screenshots land in docs/screenshots/ (committed; README shows them).
"""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest

expect = pytest.importorskip("playwright.sync_api", reason="pip install -e \".[dev]\" for playwright").expect

from tests.dashboard.fixtures.many_clients import client_ids, many_client_events
from tests.dashboard.harness import REPO, Monitor, load_events, load_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Screenshots are rewritten only when asked (FEDFORGE_UPDATE_SCREENSHOTS=1), so a test run leaves git clean.
SHOTS = REPO / "docs" / "screenshots"
UPDATE_SHOTS = os.environ.get("FEDFORGE_UPDATE_SCREENSHOTS") == "1"
RUN_ID = "A-recorded"
CLIENTS = ["client_0", "client_1", "client_2"]


def rounds_upto(events: list[dict], last_round: int) -> list[dict]:
    """Events up to and including round_completed of `last_round` (never run_finished)."""
    for i, e in enumerate(events):
        if e["type"] == "round_completed" and e["round"] == last_round:
            return events[: i + 1]
    raise ValueError(f"no round {last_round} in the fixture")


def open_dashboard(page, monitor):
    page.goto(monitor.url + "/")
    page.get_by_test_id("run-view").wait_for()
    page.wait_for_selector('[data-testid="connection"][data-connection="live"]')


def shot(page, name: str, locator=None, folder=None) -> None:
    """Screenshot into docs/screenshots when updating them, else into the test's temp folder (still taken)."""
    folder = SHOTS if UPDATE_SHOTS else folder
    folder.mkdir(parents=True, exist_ok=True)
    (locator or page).screenshot(path=str(folder / f"{name}.png"))


def test_empty_state_says_how_to_start(monitor, page):
    page.goto(monitor.url + "/")
    empty = page.get_by_test_id("empty-state")
    empty.wait_for()
    assert "dvc repro" in empty.inner_text()
    assert "fedforge federate --phase A" in empty.inner_text()


def test_live_run_topology_kpis_curves_and_node_detail(monitor, page, tmp_path):
    events = load_events()
    monitor.post(rounds_upto(events, 2))
    open_dashboard(page, monitor)

    for node in ["server", *CLIENTS]:
        expect(page.get_by_test_id(f"topology-node-{node}")).to_be_visible()
    expect(page.get_by_test_id(f"run-row-{RUN_ID}").get_by_text("synthetic data")).to_be_visible()
    expect(page.get_by_test_id("kpi-round")).to_have_text("2/6")
    expect(page.get_by_test_id("chart-loss")).to_have_attribute("data-points", "2")

    # New events reach the KPIs and curves through the WebSocket, without reloading, within a second.
    page.evaluate("window.__marker = 1")
    round3 = rounds_upto(events, 3)[len(rounds_upto(events, 2)):]
    expected_acc = f'{round3[-1]["metrics"]["acc"]:.3f}'
    monitor.post(round3)
    page.wait_for_selector('[data-testid="kpi-round"]:has-text("3/6")', timeout=1000)
    page.wait_for_selector(f'[data-testid="kpi-acc"]:has-text("{expected_acc}")', timeout=1000)
    page.wait_for_selector('[data-testid="chart-loss"][data-points="3"]', timeout=1000)
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    expect(page.get_by_test_id("topology-node-client_2")).to_have_attribute("data-state", "failed")
    shot(page, "overview", folder=tmp_path)

    # Round 4 opens: the edges of the sampled clients carry traffic.
    monitor.post(rounds_upto(events, 4)[len(rounds_upto(events, 3)):][:2])  # round_started + server heartbeat
    page.wait_for_selector('[data-testid="topology-edge-client_0"][data-traffic="down"]', timeout=1000)
    assert page.get_by_test_id("topology-node-client_0").get_attribute("data-state") == "training"
    shot(page, "topology", page.get_by_test_id("topology-panel"), tmp_path)

    # client_2 failed in round 3: its detail shows partition, histogram, history and the failure.
    page.get_by_test_id("topology-node-client_2").click()
    detail = page.get_by_test_id("node-detail")
    detail.wait_for()
    assert detail.get_by_test_id("node-partition-size").inner_text() == "2230"
    assert detail.get_by_test_id("node-histogram").locator("rect").count() == 8
    assert detail.get_by_test_id("node-history").locator("tbody tr").count() == 4  # rounds 1-2, train + evaluate
    assert "lost its connection" in detail.get_by_test_id("node-failures").inner_text()
    shot(page, "node-detail", detail, tmp_path)


def newest_per_client(events: list[dict], stage: str, value) -> dict[str, float]:
    """Each client's newest `value(event)` among its client_update events of `stage`."""
    return {e["client"]: value(e) for e in events if e["type"] == "client_update" and e["stage"] == stage}


def row_ids(page) -> list[str]:
    return [t.removeprefix("node-row-") for t in page.locator('[data-testid^="node-row-"]').evaluate_all(
        "rows => rows.map(r => r.dataset.testid)")]


def test_100_hospitals_node_list_search_sort_and_who_was_sampled(monitor, page, tmp_path):
    """100 clients, 30 sampled per round (seeded): round 3 has just started. The topology fades the 70 left out
    and says "sampled 30/100"; the node list finds, filters and sorts the hospitals by what they reported."""
    events = many_client_events(clients=100, per_round=30, rounds=3, last_round_open=True)
    monitor.post(events)
    open_dashboard(page, monitor)
    ids = client_ids(100)
    sampled = events[-1]["clients"]  # round 3's round_started
    assert (events[-1]["type"], len(sampled)) == ("round_started", 30)

    expect(page.get_by_test_id("topology")).to_have_attribute("data-layout", "grid")
    expect(page.get_by_test_id("sampled-count")).to_have_text("sampled 30/100")
    nodes = page.locator('[data-testid^="topology-node-client_"]')
    expect(nodes).to_have_count(100)
    assert sorted(nodes.evaluate_all("ns => ns.filter(n => n.dataset.sampled === 'true').map(n => n.dataset.testid)"),
                  key=lambda t: int(t.rsplit("_", 1)[1])) == [f"topology-node-{c}" for c in sampled]
    assert page.locator('[data-testid^="topology-edge-"]').count() == 30  # the model went to the sampled only

    node_list = page.get_by_test_id("node-list")
    expect(node_list).to_have_attribute("data-rows", "100")
    expect(node_list).to_contain_text("100 of 100 shown · 30 sampled this round")
    assert row_ids(page) == ids
    shot(page, "many-clients", page.get_by_test_id("run-view"), tmp_path)

    # Search by id, keep the sampled ones, sort by val ACC (descending on the second click).
    page.get_by_test_id("node-filter").fill("client_1")
    expect(node_list).to_have_attribute("data-rows", "11")
    assert row_ids(page) == ["client_1", *[f"client_{i}" for i in range(10, 20)]]
    page.get_by_test_id("node-filter").fill("")
    page.get_by_test_id("node-state-filter").select_option("sampled")
    expect(node_list).to_have_attribute("data-rows", "30")
    page.get_by_test_id("node-sort-valAcc").click()
    page.get_by_test_id("node-sort-valAcc").click()
    val_acc = newest_per_client(events, "evaluate", lambda e: e["metrics"]["eval_acc"])
    known = sorted((c for c in sampled if c in val_acc), key=lambda c: (-val_acc[c], int(c.rsplit("_", 1)[1])))
    assert row_ids(page) == known + [c for c in sampled if c not in val_acc]  # never evaluated: last
    assert page.get_by_test_id(f"node-row-{known[0]}").locator("td").nth(4).inner_text() == f"{val_acc[known[0]]:.3f}"

    # Every hospital by last train loss, then by size; a row opens the client's detail.
    page.get_by_test_id("node-state-filter").select_option("all")
    page.get_by_test_id("node-sort-lastLoss").click()
    loss = newest_per_client(events, "train", lambda e: e["train_loss"])
    by_loss = sorted(loss, key=lambda c: (loss[c], int(c.rsplit("_", 1)[1])))
    assert row_ids(page) == by_loss + [c for c in ids if c not in loss]
    page.get_by_test_id("node-sort-size").click()
    sizes = events[0]["partition_sizes"]
    assert row_ids(page) == sorted(ids, key=lambda c: (sizes[c], int(c.rsplit("_", 1)[1])))
    smallest = row_ids(page)[0]
    page.get_by_test_id(f"node-row-{smallest}").click()
    expect(page.get_by_test_id("node-detail").get_by_test_id("node-partition-size")).to_have_text(str(sizes[smallest]))


def test_pause_and_resume_through_the_ui_with_the_token(monitor, page):
    monitor.post(rounds_upto(load_events(), 1))
    open_dashboard(page, monitor)
    page.get_by_test_id("control-pause").click()
    dialog = page.get_by_test_id("token-dialog")
    dialog.get_by_label("token").fill("not-the-token")
    dialog.get_by_role("button", name="Use token").click()
    assert "rejected the token" in dialog.get_by_role("alert").inner_text()
    dialog.get_by_label("token").fill(monitor.token)
    dialog.get_by_role("button", name="Use token").click()

    page.wait_for_selector('[data-testid="run-view"] [data-testid="run-state"]:has-text("paused")')
    assert monitor.state(RUN_ID) == "paused"
    assert page.get_by_test_id("control-pause").is_disabled()
    # The token is kept for the tab: resume needs no second prompt.
    page.get_by_test_id("control-resume").click()
    page.wait_for_selector('[data-testid="run-view"] [data-testid="run-state"]:has-text("running")')
    assert monitor.state(RUN_ID) == "running"
    assert not page.get_by_test_id("token-dialog").is_visible()
    audit = monitor.http.get(f"/api/runs/{RUN_ID}/audit").json()
    assert [a["action"] for a in audit] == ["pause", "resume"]
    expect(page.get_by_test_id("audit-log")).to_contain_text("Control history (2)")


def test_dropped_websocket_reconnects_and_catches_up(monitor, page):
    events = load_events()
    monitor.post(rounds_upto(events, 1))
    open_dashboard(page, monitor)
    page.wait_for_selector('[data-testid="kpi-round"]:has-text("1/6")')

    monitor.stop()
    page.wait_for_selector('[data-testid="connection"]:not([data-connection="live"])')
    label = page.get_by_test_id("connection").get_attribute("data-connection")
    assert label in ("reconnecting", "offline")

    monitor.start()  # same port, same DB: events posted while the socket was down must arrive too
    monitor.post(rounds_upto(events, 2)[len(rounds_upto(events, 1)):])
    page.wait_for_selector('[data-testid="connection"][data-connection="live"]', timeout=15_000)
    page.wait_for_selector('[data-testid="kpi-round"]:has-text("2/6")', timeout=5_000)
    # No event twice: the reconnect asked for seq > last seen.
    count = len(rounds_upto(events, 2))
    assert re.search(rf"\b{count} events\b", page.get_by_test_id("run-view").inner_text())


def test_silent_nodes_turn_stale_then_lost(monitor, page):
    # Events recorded long ago for a run that never finished: the monitor reports its nodes as lost.
    monitor.post(rounds_upto(load_events(), 1), now=False)
    open_dashboard(page, monitor)
    for node in ["server", *CLIENTS]:
        expect(page.get_by_test_id(f"topology-node-{node}")).to_have_attribute("data-liveness", "lost")
    expect(page.get_by_test_id("topology-node-client_0")).to_contain_text("idle · lost")


def test_finished_run_replays_from_stored_events(monitor, page):
    events = load_events()
    monitor.post(events, now=False)
    open_dashboard(page, monitor)
    view = page.get_by_test_id("run-view")
    page.wait_for_selector(f'text=replayed from {len(events)} stored events')
    assert view.get_by_test_id("kpi-round").inner_text() == "6/6"
    assert view.get_by_test_id("chart-accuracy").get_attribute("data-points") == "18"
    assert page.get_by_test_id("control-pause").is_disabled()
    assert page.get_by_test_id("control-stop").is_disabled()


def test_stays_responsive_at_1000_events_a_minute(monitor, page):
    """15 s at 1,000 events/min, one event per POST, clicking tabs every second: every event shows up and
    every click is handled. The numbers are printed (pytest -s); benchmarks/dashboard_responsiveness.py
    runs the full minute."""
    stats = load_run(monitor, page, seconds=15)
    print("\nresponsiveness:", stats)
    assert stats["events"] == 250
    assert stats["clicks"] >= 10
    expect(page.get_by_test_id("connection")).to_have_attribute("data-connection", "live")


def test_phase_comparison_shows_phases_next_to_baselines(page, tmp_path):
    root = tmp_path / "repo"  # a repo root with params.yaml and two finished stages' metrics.json
    root.mkdir()
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    metrics = {
        root / "artifacts/federated/A/metrics.json": {"test": {"acc": 0.861, "auc": 0.977, "balanced_acc": 0.842,
                                                               "loss": 0.41}, "rounds": 5, "dataset": "bloodmnist",
                                                      "strategy": "fedavg", "data_source": "synthetic"},
        root / "artifacts/centralized/bloodmnist/metrics.json": {"test": {"acc": 0.902, "auc": 0.988,
                                                                          "balanced_acc": 0.889, "loss": 0.3},
                                                                 "epochs": 3, "data_source": "synthetic"},
    }
    for path, data in metrics.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    monitor = Monitor(tmp_path, root=root).start()
    try:
        page.goto(monitor.url + "/")
        page.get_by_test_id("empty-state").wait_for()
        expect(page.get_by_test_id("phases-table")).to_contain_text("dermamnist")
        page.get_by_test_id("tab-compare").click()
        phase = page.get_by_test_id("comparison-federated-A")
        expect(phase).to_contain_text("0.861")
        expect(phase).to_contain_text("-0.041")  # against the centralized bloodmnist baseline
        expect(page.get_by_test_id("comparison-centralized-bloodmnist")).to_contain_text("0.902")
        shot(page, "comparison", page.get_by_test_id("comparison-table"), tmp_path)
    finally:
        monitor.stop()
        monitor.http.close()
