"""The monitor's SQLite store (WAL, sqlite-utils): events plus the run / round / node rows folded from them.

Tables: events (pk run_id, seq: the de-duplication key), runs, rounds, nodes, control_actions.
Every statement is a constant with `?` parameters or a sqlite-utils call; no SQL is built from input.
One connection shared by the API's threads behind a lock: ingest batches are one transaction each.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import sqlite_utils

from fedforge.monitor.server.core import projection
from fedforge.monitor.server.core.runstate import next_state

JSON_COLUMNS = {"metrics", "label_histogram", "clients_ok", "clients_failed", "client_train_loss", "client_epsilons",
                "clients_sampled"}
HISTORY_LIMIT = 1000  # newest per-round results returned per node

SCHEMA = {
    "events": ({"run_id": str, "seq": int, "type": str, "ts": float, "body": str}, ("run_id", "seq")),
    "runs": ({"run_id": str, "phase": str, "dataset": str, "data_source": str, "strategy": str, "engine": str,
              "state": str, "current_round": int, "num_rounds": int, "started_at": float, "finished_at": float,
              "last_event_ts": float, "metrics": str, "error": str}, "run_id"),
    "rounds": ({"run_id": str, "round": int, "acc": float, "auc": float, "balanced_acc": float, "loss": float,
                "train_loss": float, "clients_ok": str, "clients_failed": str, "num_examples": int,
                "seconds": float, "bytes_down": int, "bytes_up": int, "client_train_loss": str,
                "started_at": float, "completed_at": float, "epsilon": float, "client_epsilons": str,
                "clients_sampled": str}, ("run_id", "round")),
    "nodes": ({"run_id": str, "node_id": str, "kind": str, "state": str, "last_seen": float,
               "partition_size": int, "label_histogram": str, "failures": int, "last_error": str},
              ("run_id", "node_id")),
    "node_history": ({"run_id": str, "seq": int, "node_id": str, "round": int, "stage": str, "ok": int,
                      "num_examples": int, "train_loss": float, "metrics": str, "seconds": float, "error": str},
                     ("run_id", "seq")),
    "control_actions": ({"id": int, "run_id": str, "ts": float, "action": str, "origin": str, "previous": str,
                         "state": str, "accepted": int}, "id"),
}
INSERT_EVENT = "INSERT OR IGNORE INTO events (run_id, seq, type, ts, body) VALUES (?, ?, ?, ?, ?)"
EXISTING_SEQS = "SELECT seq FROM events WHERE run_id = ? AND seq BETWEEN ? AND ?"
HISTORY_COLUMNS = ("run_id", "seq", "node_id", "round", "stage", "ok", "num_examples", "train_loss", "metrics",
                   "seconds", "error")
INSERT_HISTORY = ("INSERT OR IGNORE INTO node_history (run_id, seq, node_id, round, stage, ok, num_examples, "
                  "train_loss, metrics, seconds, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# A run_started ends the older runs of its phase still marked running (killed without run_finished). Only
# older ones: an imported or late-spooled old run must never stop a live newer run (its RunControl obeys).
SUPERSEDE = ("UPDATE runs SET state = 'stopped' WHERE phase = ? AND run_id != ? "
             "AND state IN ('running', 'paused') AND coalesce(started_at, last_event_ts) <= ?")
NEWER_RUN = "SELECT 1 FROM runs WHERE phase = ? AND run_id != ? AND coalesce(started_at, last_event_ts) > ? LIMIT 1"


def _dump(row: dict) -> dict:
    return {k: json.dumps(v) if k in JSON_COLUMNS else v for k, v in row.items()}


def _load(row: dict) -> dict:
    return {k: json.loads(v) if k in JSON_COLUMNS and v is not None else v for k, v in row.items()}


class Store:
    """Thread-safe access to the monitor database."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lock = threading.RLock()
        self.db = None
        self.open()

    def open(self) -> None:
        """Connect and create the schema; a no-op when already open (the app's lifespan may run twice)."""
        with self.lock:
            if self.db is not None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite_utils.Database(sqlite3.connect(self.path, check_same_thread=False))
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL mode; much faster
            for name, (columns, pk) in SCHEMA.items():
                self.db[name].create(columns, pk=pk, if_not_exists=True)
                for column, kind in columns.items():  # a DB made before a column existed (rounds.epsilon) gets it
                    if column not in self.db[name].columns_dict:
                        self.db[name].add_column(column, kind)
            self.db["runs"].create_index(["phase"], if_not_exists=True)
            self.db["control_actions"].create_index(["run_id"], if_not_exists=True)
            self.db["node_history"].create_index(["run_id", "node_id", "seq"], if_not_exists=True)

    def close(self) -> None:
        with self.lock:
            if self.db is not None:
                self.db.conn.close()
                self.db = None

    # -- ingest --------------------------------------------------------------------------------------------
    def ingest(self, events: list) -> tuple[list[tuple[str, int, str]], int]:
        """Store new events, fold them into rows; returns ([(run_id, seq, json)] stored, duplicates)."""
        by_run: dict[str, dict[int, object]] = {}
        for ev in events:  # a seq repeated inside the batch counts as a duplicate too
            by_run.setdefault(ev.run_id, {}).setdefault(ev.seq, ev)
        duplicates = len(events) - sum(len(evs) for evs in by_run.values())
        stored: list[tuple[str, int, str]] = []
        with self.lock, self.db.conn:
            conn = self.db.conn
            for run_id, evs in sorted(by_run.items()):
                seqs = sorted(evs)
                existing = {seq for (seq,) in conn.execute(EXISTING_SEQS, (run_id, seqs[0], seqs[-1]))}
                duplicates += len(existing & evs.keys())
                fresh = [evs[seq] for seq in seqs if seq not in existing]
                if not fresh:
                    continue
                bodies = [ev.model_dump_json() for ev in fresh]
                conn.executemany(INSERT_EVENT, [(run_id, ev.seq, ev.type, ev.ts, body)
                                                for ev, body in zip(fresh, bodies)])
                stored += [(run_id, ev.seq, body) for ev, body in zip(fresh, bodies)]
                self._project(run_id, fresh)
        return stored, duplicates

    def _project(self, run_id: str, fresh: list) -> None:
        """Fold a run's new events (seq order) into its run / node / round rows and node history."""
        run = self._row("runs", run_id) or projection.new_run(run_id, fresh[0].phase)
        nodes, rounds, history = {}, {}, []

        def node(node_id):
            if node_id not in nodes:
                nodes[node_id] = self._row("nodes", (run_id, node_id)) or projection.new_node(run_id, node_id)
            return nodes[node_id]

        def every_node():
            for row in self.db["nodes"].rows_where("run_id = ?", [run_id]):
                nodes.setdefault(row["node_id"], _load(row))
            return list(nodes.values())

        def round_row(number):
            if number not in rounds:
                rounds[number] = self._row("rounds", (run_id, number)) or projection.new_round(run_id, number)
            return rounds[number]

        for ev in fresh:
            def record(node_id, item, seq=ev.seq):
                history.append({**item, "run_id": run_id, "seq": seq, "node_id": node_id, "ok": int(item["ok"])})

            superseded = False
            if ev.type == "run_started":
                self.db.conn.execute(SUPERSEDE, (ev.phase, run_id, ev.ts))
                superseded = self.db.conn.execute(NEWER_RUN, (ev.phase, run_id, ev.ts)).fetchone() is not None
            projection.apply(ev, run, node, round_row, record, every_node)
            if superseded:  # a newer run of the phase exists: this one cannot still be running
                run["state"] = "stopped"
        self.db["runs"].upsert(_dump(run), pk="run_id")
        if nodes:
            self.db["nodes"].upsert_all([_dump(n) for n in nodes.values()], pk=("run_id", "node_id"))
        if rounds:
            self.db["rounds"].upsert_all([_dump(r) for r in rounds.values()], pk=("run_id", "round"))
        if history:
            self.db.conn.executemany(INSERT_HISTORY, [tuple(h[c] for c in HISTORY_COLUMNS) for h in map(_dump, history)])

    def _row(self, table: str, pk) -> dict | None:
        try:
            return _load(self.db[table].get(pk))
        except sqlite_utils.db.NotFoundError:
            return None

    # -- reads ---------------------------------------------------------------------------------------------
    def runs(self) -> list[dict]:
        """Every run, newest first."""
        with self.lock:
            rows = self.db["runs"].rows_where(order_by="coalesce(started_at, last_event_ts) desc, run_id")
            return [_load(r) for r in rows]

    def run(self, run_id: str) -> dict | None:
        with self.lock:
            return self._row("runs", run_id)

    def rounds(self, run_id: str) -> list[dict]:
        with self.lock:
            return [_load(r) for r in self.db["rounds"].rows_where("run_id = ?", [run_id], order_by="round")]

    def nodes(self, run_id: str) -> list[dict]:
        """The run's nodes (server first), each with its newest HISTORY_LIMIT per-round results, oldest first."""
        with self.lock:
            rows = self.db["nodes"].rows_where("run_id = ?", [run_id], order_by="kind desc, node_id")
            nodes = [_load(r) for r in rows]
            for node in nodes:
                items = self.db["node_history"].rows_where(
                    "run_id = ? and node_id = ?", [run_id, node["node_id"]], order_by="seq desc", limit=HISTORY_LIMIT,
                    select="round, stage, ok, num_examples, train_loss, metrics, seconds, error")
                node["history"] = [{**_load(h), "ok": bool(h["ok"])} for h in reversed(list(items))]
            return nodes

    def events_since(self, run_id: str, since: int = -1, limit: int | None = None) -> list[tuple[int, str]]:
        """[(seq, event JSON)] with seq > since, in seq order."""
        with self.lock:
            rows = self.db["events"].rows_where("run_id = ? and seq > ?", [run_id, since], order_by="seq",
                                                select="seq, body", limit=limit)
            return [(r["seq"], r["body"]) for r in rows]

    # -- control -------------------------------------------------------------------------------------------
    def control(self, run_id: str, action: str, origin: str, ts: float, on_accept=None) -> tuple[str, str]:
        """Apply one control action atomically and audit it (refusals too); returns (previous, new state).

        Raises KeyError for an unknown run and runstate.InvalidTransition for a refused action.
        `on_accept(run)` runs before the state is saved; if it raises, nothing changes but the audit line.
        """
        with self.lock:
            run = self._row("runs", run_id)
            if run is None:
                raise KeyError(run_id)
            previous = run["state"]
            audit = {"run_id": run_id, "ts": ts, "action": action, "origin": origin, "previous": previous,
                     "state": previous, "accepted": 0}
            try:
                state = next_state(run_id, action, previous)
                if on_accept is not None:
                    on_accept(run)
            except Exception:
                self.db["control_actions"].insert(audit)
                raise
            with self.db.conn:
                self.db["runs"].update(run_id, {"state": state})
                self.db["control_actions"].insert({**audit, "state": state, "accepted": 1})
            return previous, state

    def settle_relaunch(self, run_id: str, previous: str) -> bool:
        """A relaunched phase process ended: if no new run took over (it would have set this run to stopped),
        the launch failed early, so the run goes back to `previous` instead of claiming to run forever."""
        with self.lock:
            run = self._row("runs", run_id)
            if run is None or run["state"] != "running":
                return False
            with self.db.conn:
                self.db["runs"].update(run_id, {"state": previous})
            return True

    def audit(self, run_id: str) -> list[dict]:
        with self.lock:
            rows = self.db["control_actions"].rows_where("run_id = ?", [run_id], order_by="id")
            return [{**r, "accepted": bool(r["accepted"])} for r in rows]
