"""`fedforge monitor import` and the import at start-up: runs recorded without a monitor reach the dashboard."""
import json

import httpx

from fedforge import paths
from fedforge.cli import main
from fedforge.monitor.server.core.db import Store
from fedforge.monitor.server.core.importer import recorded_event_files

from ..conftest import make_event, serve_monitor


def record_run(root, phase="A", run_id="run-1", rounds=2) -> object:
    """An events.jsonl as a phase writes it with no monitor running: started, rounds, finished."""
    events = [make_event("run_started", 0, run_id=run_id, phase=phase, num_rounds=rounds)]
    for r in range(1, rounds + 1):
        events += [make_event("round_started", len(events), run_id=run_id, phase=phase, round=r),
                   make_event("client_update", len(events) + 1, run_id=run_id, phase=phase, round=r),
                   make_event("round_completed", len(events) + 2, run_id=run_id, phase=phase, round=r)]
    events.append(make_event("run_finished", len(events), run_id=run_id, phase=phase, rounds_completed=rounds))
    path = root / paths.federated_dir(phase) / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def stored(db, run_id="run-1") -> list[int]:
    store = Store(db)
    try:
        return [seq for seq, _ in store.events_since(run_id)]
    finally:
        store.close()


def test_default_files_are_every_phase_events_log(tmp_path):
    a, b = record_run(tmp_path, "A"), record_run(tmp_path, "B", run_id="run-2")
    (a.parent / "events.spool.jsonl").write_text("")  # the telemetry spool is not a recording
    assert [p.resolve() for p in recorded_event_files(tmp_path)] == [a.resolve(), b.resolve()]


def test_import_twice_stores_each_event_once(tmp_path, monkeypatch, capsys):
    record_run(tmp_path)
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "monitor.db"
    assert main(["monitor", "import", "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip() == "artifacts/federated/A/events.jsonl: 8 accepted, 0 duplicates"
    assert main(["monitor", "import", "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip() == "artifacts/federated/A/events.jsonl: 0 accepted, 8 duplicates"
    assert stored(db) == list(range(8))
    store = Store(db)
    run, rounds = store.run("run-1"), store.rounds("run-1")
    store.close()
    assert run["state"] == "completed" and run["current_round"] == 2 and [r["round"] for r in rounds] == [1, 2]


def test_malformed_line_names_file_and_line_and_imports_nothing_from_it(tmp_path, capsys):
    good = record_run(tmp_path, "A")
    bad = record_run(tmp_path, "B", run_id="run-2")
    lines = bad.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('"round": 1', '"round": "first"')
    bad.write_text("".join(lines))
    db = tmp_path / "monitor.db"
    assert main(["monitor", "import", str(bad), str(good), "--db", str(db)]) == 1
    out, err = capsys.readouterr()
    assert f"{bad}:3: not a valid event" in err and "round" in err
    assert f"{good}: 8 accepted" in out  # the other file is still imported
    assert stored(db, "run-2") == [] and stored(db, "run-1") == list(range(8))


def test_not_json_is_an_error_too(tmp_path, capsys):
    path = record_run(tmp_path)
    path.write_text(path.read_text() + "not json\n")
    assert main(["monitor", "import", str(path), "--db", str(tmp_path / "m.db")]) == 1
    assert f"{path}:9: not a valid event" in capsys.readouterr().err


def test_truncated_last_line_of_a_killed_run_is_skipped(tmp_path, capsys):
    path = record_run(tmp_path)
    path.write_text(path.read_text() + '{"type": "heartbeat", "run_id": "ru')  # killed mid-write: no newline
    db = tmp_path / "monitor.db"
    assert main(["monitor", "import", str(path), "--db", str(db)]) == 0
    assert "8 accepted" in capsys.readouterr().out and stored(db) == list(range(8))


def test_nothing_to_import_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["monitor", "import", "--db", str(tmp_path / "m.db")]) == 1
    assert "artifacts/federated/*/events.jsonl" in capsys.readouterr().err


def test_serve_refuses_file_arguments(tmp_path, capsys):
    assert main(["monitor", "serve", "x.jsonl", "--db", str(tmp_path / "m.db")]) == 2
    assert "only `fedforge monitor import PATH" in capsys.readouterr().err


def test_serve_imports_recorded_runs_at_start_and_skips_a_bad_file(tmp_path):
    record_run(tmp_path, "A")
    bad = record_run(tmp_path, "B", run_id="run-2")
    bad.write_text("{broken\n" + bad.read_text())
    db = tmp_path / "artifacts" / "monitor" / "monitor.db"
    with serve_monitor(tmp_path, db) as monitor:
        runs = httpx.get(f"{monitor.url}/api/runs").json()
        assert [(r["run_id"], r["state"]) for r in runs] == [("run-1", "completed")]
        events = httpx.get(f"{monitor.url}/api/runs/run-1/events", params={"since": -1}).json()
        assert [e["seq"] for e in events] == list(range(8))  # the dashboard replays it like a live run
    assert "artifacts/federated/A/events.jsonl: 8 new events, 0 already stored" in monitor.output
    assert "skipped artifacts/federated/B/events.jsonl:1: not a valid event" in monitor.output


def test_serve_no_import_leaves_the_db_alone(tmp_path):
    record_run(tmp_path)
    with serve_monitor(tmp_path, tmp_path / "monitor.db", "--no-import") as monitor:
        assert httpx.get(f"{monitor.url}/api/runs").json() == []
