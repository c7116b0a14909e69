"""Fold telemetry events into the run / round / node rows the dashboard reads (pure functions on dicts).

The store loads the rows one batch touches, applies each new event here, and writes them back, so the
read side is a few indexed lookups instead of a replay of every event. This fold is the source of truth:
`fold_events` replays a whole run through it, and the dashboard's TypeScript fold (runState.ts) is tested
against that on a recorded run (tests/dashboard/test_fold_parity.py).
"""
from __future__ import annotations

from fedforge.monitor.client.events import (
    ClientFailed,
    ClientUpdate,
    Heartbeat,
    RoundCompleted,
    RoundStarted,
    RunFinished,
    RunStarted,
    parse_event,
)


def new_run(run_id: str, phase: str) -> dict:
    """A run row before (or without) its run_started event, e.g. a monitor started mid-run."""
    return {"run_id": run_id, "phase": phase, "dataset": None, "data_source": None, "strategy": None,
            "engine": None, "state": "running", "current_round": 0, "num_rounds": None, "started_at": None,
            "finished_at": None, "last_event_ts": None, "metrics": {}, "error": None}


def new_node(run_id: str, node_id: str) -> dict:
    return {"run_id": run_id, "node_id": node_id, "kind": "server" if node_id == "server" else "client",
            "state": "idle", "last_seen": None, "partition_size": None, "label_histogram": [], "failures": 0,
            "last_error": None}


def new_round(run_id: str, number: int) -> dict:
    return {"run_id": run_id, "round": number, "acc": None, "auc": None, "balanced_acc": None, "loss": None,
            "train_loss": None, "clients_ok": [], "clients_failed": [], "num_examples": 0, "seconds": None,
            "bytes_down": 0, "bytes_up": 0, "client_train_loss": {}, "started_at": None, "completed_at": None,
            "epsilon": None, "client_epsilons": {}, "clients_sampled": None}


def _seen(node: dict, ts: float) -> None:
    node["last_seen"] = max(node["last_seen"] or 0.0, ts)


def _finish_nodes(nodes: list[dict], server: dict, failed: bool) -> None:
    """A finished run has no node at work: each one goes idle, except a client whose last word was a failure
    (it keeps "failed", with its error) and the server of a failed run, which turns "failed"."""
    for row in nodes:
        if row["state"] != "failed":
            row["state"] = "idle"
    server["state"] = "failed" if failed else "idle"


def apply(event, run: dict, node, round_row, history, every_node) -> None:
    """Apply one event to its run row; `node(id)` and `round_row(n)` return (creating) the rows to change,
    `history(node_id, item)` records one per-round client result (a row of its own: appends stay O(1)),
    `every_node()` returns all the run's node rows (only run_finished needs them)."""
    run["last_event_ts"] = max(run["last_event_ts"] or 0.0, event.ts)
    server = node("server")
    _seen(server, event.ts)  # every event is sent by the server process: it is alive
    if isinstance(event, RunStarted):
        run.update(dataset=event.dataset, data_source=event.data_source, strategy=event.strategy,
                   engine=event.engine, num_rounds=event.num_rounds, finished_at=None, error=None)
        run["started_at"] = run["started_at"] or event.ts
        run["current_round"] = max(run["current_round"], event.start_round - 1)
        if run["state"] != "paused":
            run["state"] = "running"
        for client in event.clients:
            n = node(client)
            _seen(n, event.ts)  # the server lists the clients it has connected
            n["partition_size"] = event.partition_sizes.get(client, n["partition_size"])
            n["label_histogram"] = event.label_histograms.get(client, n["label_histogram"])
    elif isinstance(event, RoundStarted):
        run["current_round"] = max(run["current_round"], event.round)
        round_row(event.round).update(started_at=event.ts, clients_sampled=event.clients)
        server["state"] = "training"
    elif isinstance(event, ClientUpdate):
        n = node(event.client)
        n["state"] = event.state
        _seen(n, event.ts)
        history(event.client, {"round": event.round, "stage": event.stage, "ok": True, "num_examples": event.num_examples,
                               "train_loss": event.train_loss, "metrics": event.metrics, "seconds": event.seconds,
                               "error": None})
        if event.stage == "train" and event.train_loss is not None:
            round_row(event.round)["client_train_loss"][event.client] = event.train_loss
        if event.stage == "evaluate":
            server["state"] = "evaluating"
    elif isinstance(event, ClientFailed):
        n = node(event.client)  # reported by the server: says nothing about the client being alive
        n.update(state="failed", last_error=event.error, failures=n["failures"] + 1)
        history(event.client, {"round": event.round, "stage": event.stage, "ok": False, "num_examples": 0,
                               "train_loss": None, "metrics": {}, "seconds": None, "error": event.error})
    elif isinstance(event, RoundCompleted):
        r = round_row(event.round)
        r.update(event.metrics.model_dump(), train_loss=event.train_loss, clients_ok=event.clients_ok,
                 clients_failed=event.clients_failed, num_examples=event.num_examples, seconds=event.seconds,
                 bytes_down=event.bytes_down, bytes_up=event.bytes_up, completed_at=event.ts, epsilon=event.epsilon,
                 client_epsilons=event.client_epsilons)
        run["current_round"] = max(run["current_round"], event.round)
        run["metrics"] = event.metrics.model_dump()
        server["state"] = "idle"
    elif isinstance(event, RunFinished):
        run.update(state=event.status, finished_at=event.ts, error=event.error)
        finals = {k: v for k, v in event.metrics.model_dump().items() if v is not None}
        run["metrics"] = {**run["metrics"], **finals}
        _finish_nodes(every_node(), server, failed=event.status == "failed")
    elif isinstance(event, Heartbeat):
        n = node(event.node)
        n["state"] = event.state
        _seen(n, event.ts)


def fold_events(events: list[dict]) -> dict:
    """One run's events (dicts as in events.jsonl) folded from scratch by `apply`, as plain JSON-able data.

    The shape is GET /api/runs/{run_id} without the wall-clock `liveness`: the run row's fields plus
    `rounds` (round rows, by round) and `nodes` (node rows, server first then by node_id, each with its
    `history` of per-round results). Like the store, events go in seq order and a repeated seq counts once.
    """
    by_seq: dict[int, object] = {}
    for event in map(parse_event, events):
        by_seq.setdefault(event.seq, event)
    run_ids = {event.run_id for event in by_seq.values()}
    if len(run_ids) != 1:
        raise ValueError(f"fold_events folds the events of one run, got run ids {sorted(run_ids)}")
    ordered = [by_seq[seq] for seq in sorted(by_seq)]
    run_id = ordered[0].run_id
    run = new_run(run_id, ordered[0].phase)
    nodes: dict[str, dict] = {}
    rounds: dict[int, dict] = {}
    histories: dict[str, list[dict]] = {}

    def node(node_id: str) -> dict:
        return nodes.setdefault(node_id, new_node(run_id, node_id))

    def round_row(number: int) -> dict:
        return rounds.setdefault(number, new_round(run_id, number))

    def history(node_id: str, item: dict) -> None:
        histories.setdefault(node_id, []).append(item)

    for event in ordered:
        apply(event, run, node, round_row, history, lambda: list(nodes.values()))
    node_order = sorted(nodes.values(), key=lambda n: (n["kind"] != "server", n["node_id"]))
    return {**run,
            "rounds": [_without_run_id(rounds[number]) for number in sorted(rounds)],
            "nodes": [{**_without_run_id(n), "history": histories.get(n["node_id"], [])} for n in node_order]}


def _without_run_id(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "run_id"}
