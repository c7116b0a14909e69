"""In-process pub/sub: ingest hands newly stored events to every WebSocket watching that run.

Lives on the event loop (publish is called from async code after the store commits). A subscriber that
falls WS_QUEUE_SIZE events behind is cut off with a marker instead of growing memory without bound;
its client reconnects with `since` and catches up from the database.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict

OVERFLOW = (-1, "")  # marker put on a subscriber's queue when it could not keep up


class Broadcaster:
    def __init__(self, queue_size: int):
        self.queue_size = queue_size
        self._subs: dict[str, set[asyncio.Queue]] = defaultdict(set)

    def subscribe(self, run_id: str) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=self.queue_size + 1)
        self._subs[run_id].add(q)
        return q

    def unsubscribe(self, run_id: str, q: asyncio.Queue) -> None:
        subs = self._subs.get(run_id)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._subs[run_id]

    def publish(self, stored: list[tuple[str, int, str]]) -> None:
        """Queue (seq, json) for every subscriber of each event's run, in the order given."""
        for run_id, seq, body in stored:
            for q in list(self._subs.get(run_id, ())):
                if q.qsize() >= self.queue_size:
                    if q.qsize() == self.queue_size:
                        q.put_nowait(OVERFLOW)
                    continue
                q.put_nowait((seq, body))

    def subscribers(self, run_id: str | None = None) -> int:
        return sum(len(s) for r, s in self._subs.items() if run_id is None or r == run_id)
