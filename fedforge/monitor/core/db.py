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

from fedforge.monitor.core import projection
from fedforge.monitor.core.runstate import next_state

JSON_COLUMNS = {"metrics", "label_histogram", "history", "clients_ok", "clients_failed", "client_train_loss"}

SCHEMA = {
    "events": ({"run_id": str, "seq": int, "type": str, "ts": float, "body": str}, ("run_id", "seq")),
    "runs": ({"run_id": str, "phase": str, "dataset": str, "data_source": str, "strategy": str, "engine": str,
              "state": str, "current_round": int, "num_rounds": int, "started_at": float, "finished_at": float,
              "last_event_ts": float, "metrics": str, "error": str}, "run_id"),
    "rounds": ({"run_id": str, "round": int, "acc": float, "auc": float, "balanced_acc": float, "loss": float,
                "train_loss": float, "clients_ok": str, "clients_failed": str, "num_examples": int,
                "seconds": float, "bytes_down": int, "bytes_up": int, "client_train_loss": str,
                "started_at": float, "completed_at": float}, ("run_id", "round")),
    "nodes": ({"run_id": str, "node_id": str, "kind": str, "state": str, "last_seen": float,
               "partition_size": int, "label_histogram": str, "failures": int, "last_error": str,
               "history": str}, ("run_id", "node_id")),
    "control_actions": ({"id": int, "run_id": str, "ts": float, "action": str, "origin": str, "previous": str,
                         "state": str, "accepted": int}, "id"),
}
INSERT_EVENT = "INSERT OR IGNORE INTO events (run_id, seq, type, ts, body) VALUES (?, ?, ?, ?, ?)"
SUPERSEDE = ("UPDATE runs SET state = 'stopped' "
             "WHERE phase = ? AND run_id != ? AND state IN ('running', 'paused')")


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
            self.db["runs"].create_index(["phase"], if_not_exists=True)
            self.db["control_actions"].create_index(["run_id"], if_not_exists=True)

    def close(self) -> None:
        with self.lock:
            if self.db is not None:
                self.db.conn.close()
                self.db = None

    # -- ingest --------------------------------------------------------------------------------------------
    def ingest(self, events: list) -> tuple[list[tuple[str, int, str]], int]:
        """Store new events, fold them into rows; returns ([(run_id, seq, json)] stored, duplicates)."""
        stored: list[tuple[str, int, str]] = []
        duplicates = 0
        with self.lock, self.db.conn:
            runs, nodes, rounds = {}, {}, {}
            for ev in sorted(events, key=lambda e: (e.run_id, e.seq)):
                body = ev.model_dump_json()
                cur = self.db.execute(INSERT_EVENT, (ev.run_id, ev.seq, ev.type, ev.ts, body))
                if cur.rowcount == 0:
                    duplicates += 1
                    continue
                stored.append((ev.run_id, ev.seq, body))
                run = runs.get(ev.run_id) or runs.setdefault(ev.run_id, self._run_row(ev.run_id, ev.phase))
                if ev.type == "run_started":
                    self.db.execute(SUPERSEDE, (ev.phase, ev.run_id))

                def node(node_id, run_id=ev.run_id):
                    key = (run_id, node_id)
                    if key not in nodes:
                        nodes[key] = self._row("nodes", key) or projection.new_node(run_id, node_id)
                    return nodes[key]

                def round_row(number, run_id=ev.run_id):
                    key = (run_id, number)
                    if key not in rounds:
                        rounds[key] = self._row("rounds", key) or projection.new_round(run_id, number)
                    return rounds[key]

                projection.apply(ev, run, node, round_row)
            for table, rows, pk in (("runs", runs.values(), "run_id"), ("nodes", nodes.values(), ("run_id", "node_id")),
                                    ("rounds", rounds.values(), ("run_id", "round"))):
                if rows:
                    self.db[table].upsert_all([_dump(r) for r in rows], pk=pk)
        return stored, duplicates

    def _row(self, table: str, pk) -> dict | None:
        try:
            return _load(self.db[table].get(pk))
        except sqlite_utils.db.NotFoundError:
            return None

    def _run_row(self, run_id: str, phase: str) -> dict:
        return self._row("runs", run_id) or projection.new_run(run_id, phase)

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
        with self.lock:
            rows = self.db["nodes"].rows_where("run_id = ?", [run_id], order_by="kind desc, node_id")
            return [_load(r) for r in rows]

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

    def audit(self, run_id: str) -> list[dict]:
        with self.lock:
            rows = self.db["control_actions"].rows_where("run_id = ?", [run_id], order_by="id")
            return [{**r, "accepted": bool(r["accepted"])} for r in rows]
