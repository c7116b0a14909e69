"""Telemetry client the federation uses: every event lands in events.jsonl at once and reaches the monitor later.

`emit` validates the event, appends it to events.jsonl (the replayable log) and puts it on a bounded queue;
it never waits for the network. A background thread batches queued events into POST {url}/api/events.
While the monitor is unreachable, batches go to a spool file beside events.jsonl (`events.spool.jsonl`)
and are re-sent in seq order once it answers again; the monitor de-duplicates on (run_id, seq), so a
batch sent twice (timeout after the monitor stored it) is harmless. A spool left by a killed process is
re-sent by the next Telemetry writing to the same folder. The URL is params monitor.url or env
FEDFORGE_MONITOR_URL; "auto" finds a running `fedforge monitor` by the endpoint.json it writes (endpoint.py).
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Self

import httpx

from fedforge.monitor.client.endpoint import discover_url, endpoint_path
from fedforge.monitor.client.events import Event, parse_event

log = logging.getLogger(__name__)

URL_ENV = "FEDFORGE_MONITOR_URL"
AUTO = "auto"                     # params/env value: find a running monitor (endpoint.json beside its DB)
MAX_BATCH_EVENTS = 500            # per POST; the monitor accepts up to MAX_EVENTS_PER_REQUEST
MAX_BATCH_BYTES = 256 * 1024      # per POST; well under the monitor's 1 MiB body limit
FLUSH_INTERVAL = 0.2              # seconds the sender waits to fill a batch
RETRY_MIN, RETRY_MAX = 0.5, 5.0   # back-off between attempts while the monitor is away
QUEUE_SIZE = 20_000               # events held in memory before emit spills straight to the spool file
HTTP_TIMEOUT = httpx.Timeout(3.0, connect=1.0)
_ANNOUNCED: set[str] = set()      # discovery outcomes already logged by this process


def resolve_url(url: str | None, db_path: Path | None = None) -> str | None:
    """params monitor.url, overridden by env FEDFORGE_MONITOR_URL when that is set ("" disables);
    "auto" = the monitor announced in endpoint.json beside `db_path` (default artifacts/monitor/), else none."""
    url = os.environ.get(URL_ENV, url)
    if url == AUTO:
        url = discover_url(db_path)
        _announce(f"monitor.url auto: sending telemetry to the running monitor at {url}" if url else
                  f"monitor.url auto: no running monitor announced in {endpoint_path(db_path)}; "
                  "events go to events.jsonl only (start `fedforge monitor` first, or import them later "
                  "with `fedforge monitor import`)")
    return url.rstrip("/") if url else None


def _announce(message: str) -> None:
    """Log once per process: Telemetry and RunControl both resolve the same URL."""
    if message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        log.info(message)


def _chunks(lines: list[str]) -> list[list[str]]:
    """Split JSON lines into POST batches bounded by event count and body size."""
    batches, batch, size = [], [], 0
    for line in lines:
        if batch and (len(batch) >= MAX_BATCH_EVENTS or size + len(line) > MAX_BATCH_BYTES):
            batches.append(batch)
            batch, size = [], 0
        batch.append(line)
        size += len(line) + 1
    if batch:
        batches.append(batch)
    return batches


def _order(lines: list[str]) -> list[str]:
    """Spooled lines in (run_id, seq) order, each event once (overflow can interleave them)."""
    keyed = {}
    for line in lines:
        try:
            ev = json.loads(line)
            keyed[(ev["run_id"], ev["seq"])] = line
        except (ValueError, KeyError, TypeError):
            log.warning("telemetry: dropping a corrupt spool line: %.80s", line)
    return [keyed[k] for k in sorted(keyed)]


class Telemetry:
    """Emit events for one run: events.jsonl always; the monitor too when `url` is set."""

    def __init__(self, run_id: str, phase: str, events_path: Path, url: str | None = None,
                 token: str | None = None, *, start_seq: int = 0):
        from fedforge.monitor.client.token import read_token

        self.run_id, self.phase = run_id, phase
        self.events_path = Path(events_path)
        self.events_path.parent.mkdir(parents=True, exist_ok=True)
        self.spool_path = self.events_path.with_name(self.events_path.stem + ".spool.jsonl")
        self.url = resolve_url(url)
        self.token = token or read_token()
        self.sent = 0                        # events the monitor acknowledged (stored or duplicate)
        self._seq = start_seq
        self._lock = threading.Lock()        # seq + events.jsonl
        self._spool_lock = threading.Lock()  # spool file
        self._log = open(self.events_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the run, closed by close()
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._closing = threading.Event()
        self._thread = None
        self._warned = False
        if self.url:
            self._thread = threading.Thread(target=self._run, name=f"telemetry-{run_id}", daemon=True)
            self._thread.start()

    # -- caller side: never touches the network ------------------------------------------------------
    def emit(self, event_type: str, **fields) -> Event:
        """Validate and record one event (fills run_id, phase, seq, ts); hand it to the sender."""
        with self._lock:
            data = {"type": event_type, "run_id": self.run_id, "phase": self.phase, "seq": self._seq,
                    "ts": fields.pop("ts", time.time()), **fields}
            event = parse_event(data)  # raises pydantic.ValidationError on a bad field: a caller bug
            line = event.model_dump_json()
            if self._log.closed:  # a late emit from another thread (e.g. a heartbeat) after close()
                log.debug("telemetry: closed; dropping %s seq %d", event_type, self._seq)
                return event
            self._log.write(line + "\n")
            self._log.flush()
            self._seq += 1
        if self._thread is not None:
            try:
                self._queue.put_nowait(line)
            except queue.Full:  # sender stuck for a long time: keep the event on disk, never block
                self._spool([line])
        return event

    def close(self, timeout: float = 5.0) -> None:
        """Flush what reaches the monitor within `timeout`; the rest stays spooled for the next run."""
        if self._thread is not None and not self._closing.is_set():
            self._closing.set()
            self._queue.put(None)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("telemetry: monitor did not take every event within %.1fs; "
                            "the rest is in events.jsonl / %s", timeout, self.spool_path.name)
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sender thread ---------------------------------------------------------------------------------
    def _spool(self, lines: list[str]) -> None:
        with self._spool_lock, open(self.spool_path, "a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))

    def _take_spool(self) -> list[str]:
        with self._spool_lock:
            if not self.spool_path.exists():
                return []
            lines = self.spool_path.read_text(encoding="utf-8").splitlines()
            self.spool_path.unlink()
        return _order([ln for ln in lines if ln.strip()])

    def _post(self, client: httpx.Client, lines: list[str]) -> bool:
        """POST one batch; True when the monitor has it (or rejected it for good), False to retry later."""
        body = '{"events":[' + ",".join(lines) + "]}"
        try:
            r = client.post(f"{self.url}/api/events", content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            if not self._warned:
                log.warning("telemetry: monitor %s unreachable (%s); spooling to %s",
                            self.url, type(exc).__name__, self.spool_path)
                self._warned = True
            return False
        if r.status_code == 200:
            self.sent += len(lines)
            if self._warned:
                log.info("telemetry: monitor %s is back; re-sent spooled events", self.url)
                self._warned = False
            return True
        if r.status_code in (401, 403):
            if not self._warned:
                log.error("telemetry: monitor rejected the token (%d); set %s or run `fedforge monitor token`; "
                          "spooling", r.status_code, "FEDFORGE_MONITOR_TOKEN")
                self._warned = True
            return False
        if r.status_code == 422:  # same models on both sides, so a version skew: retrying cannot help
            log.error("telemetry: monitor refused %d events as invalid: %.300s", len(lines), r.text)
            return True
        log.warning("telemetry: monitor answered %d; will retry", r.status_code)
        return False

    def _deliver(self, client: httpx.Client, lines: list[str]) -> bool:
        """Send lines in order; on the first failure spool the unsent rest and return False."""
        batches = _chunks(lines)
        for i, batch in enumerate(batches):
            if not self._post(client, batch):
                self._spool([ln for b in batches[i:] for ln in b])
                return False
        return True

    def _drain(self, wait: float) -> tuple[list[str], bool]:
        """Up to MAX_BATCH_EVENTS queued lines, waiting at most `wait` for the first; (lines, saw_close)."""
        lines, closing = [], False
        deadline = time.monotonic() + wait
        while len(lines) < MAX_BATCH_EVENTS:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic())) if not lines \
                    else self._queue.get_nowait()
            except queue.Empty:
                if lines or time.monotonic() >= deadline:
                    break
                continue
            if item is None:
                closing = True
                break
            lines.append(item)
        return lines, closing

    def _run(self) -> None:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        retry, next_try = RETRY_MIN, 0.0
        with httpx.Client(timeout=HTTP_TIMEOUT, headers=headers) as client:
            while True:
                lines, closing = self._drain(FLUSH_INTERVAL)
                closing = closing or self._closing.is_set()
                if self.spool_path.exists():
                    if lines:
                        self._spool(lines)
                    if time.monotonic() >= next_try or closing:
                        if self._deliver(client, self._take_spool()):
                            retry = RETRY_MIN
                        else:
                            next_try, retry = time.monotonic() + retry, min(retry * 2, RETRY_MAX)
                elif lines and not self._deliver(client, lines):
                    next_try, retry = time.monotonic() + retry, min(retry * 2, RETRY_MAX)
                if closing and self._queue.empty():
                    return
