"""The DP budget (round_completed epsilon, per-hospital epsilons) reaches the monitor's rounds, old DBs included."""
import sqlite3

from fedforge.monitor.client.events import parse_event
from fedforge.monitor.server.core.db import Store

from ...conftest import make_event


def test_round_epsilons_are_stored_and_an_old_db_gains_the_columns(db_path):
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db_path) as old:  # a rounds table from before the epsilon columns existed
        old.execute("CREATE TABLE rounds (run_id TEXT, round INTEGER, acc FLOAT, PRIMARY KEY (run_id, round))")
    store = Store(db_path)
    try:
        store.ingest([parse_event(make_event("run_started", 0)),
                      parse_event(make_event("round_completed", 1, epsilon=1.25,
                                             client_epsilons={"client_0": 1.25, "client_1": 0.5}))])
        row = store.db.execute("SELECT epsilon, client_epsilons FROM rounds WHERE run_id = 'run-1'").fetchone()
        assert row == (1.25, '{"client_0": 1.25, "client_1": 0.5}')
    finally:
        store.close()
