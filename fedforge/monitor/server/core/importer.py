"""Import recorded runs: events.jsonl files written without a monitor go into the store like POSTed events.

Every line is validated by the same event models as POST /api/events and stored by the same Store.ingest,
so importing is idempotent on (run_id, seq): a file imported twice, or a run that also streamed live,
is stored once. A file with a bad line is refused whole (nothing half-imported), naming file and line.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from fedforge import paths
from fedforge.errors import UserError
from fedforge.monitor.client.events import Event, parse_event
from fedforge.monitor.server.core.settings import MAX_EVENTS_PER_REQUEST

log = logging.getLogger(__name__)

EVENTS_FILE_NAME = "events.jsonl"


class EventsFileError(UserError, ValueError):
    """An events.jsonl that cannot be imported; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class ImportResult:
    path: Path
    accepted: int    # events stored now
    duplicates: int  # events the store already had (same run_id and seq)


def recorded_event_files(repo_root: str | Path = ".") -> list[Path]:
    """Every artifacts/federated/<phase>/events.jsonl under the repo root, in phase order."""
    return sorted(Path(repo_root).glob(str(paths.federated_dir("*") / EVENTS_FILE_NAME)))


def _reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in exc.errors())


def read_events(path: str | Path) -> list[Event]:
    """Parse and validate every line of an events.jsonl; blank lines are skipped.

    A last line without its newline that does not parse is a write cut short (the process was killed
    mid-line): it is skipped with a warning, so a killed run can still be imported. Any other bad line
    raises EventsFileError.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EventsFileError(f"{path}: cannot read it ({exc})") from exc
    lines = text.split("\n")
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(parse_event(line))
        except ValidationError as exc:
            if number == len(lines):  # no newline after it: cut short by a kill
                log.warning("%s:%d: skipping a truncated last line (%s)", path, number, _reason(exc))
                continue
            raise EventsFileError(f"{path}:{number}: not a valid event: {_reason(exc)}. Fix or delete that line "
                                  "(each line must be one JSON event as written by the federation)") from None
    return events


def import_file(store, path: str | Path) -> ImportResult:
    """Validate the whole file, then ingest it in batches through Store.ingest (the POST /api/events path)."""
    events = read_events(path)
    accepted = duplicates = 0
    for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
        stored, dup = store.ingest(events[start:start + MAX_EVENTS_PER_REQUEST])
        accepted, duplicates = accepted + len(stored), duplicates + dup
    return ImportResult(Path(path), accepted, duplicates)


def import_recorded(store, files: list[Path]) -> list[ImportResult]:
    """Import each file, logging the counts; a file that cannot be imported is logged and skipped."""
    results = []
    for path in files:
        try:
            result = import_file(store, path)
        except EventsFileError as exc:
            log.warning("import: skipped %s", exc)
            continue
        log.info("import: %s: %d new events, %d already stored", path, result.accepted, result.duplicates)
        results.append(result)
    return results
