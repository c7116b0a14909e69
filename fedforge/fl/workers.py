"""Worker processes that train the local engine's hospitals side by side (`federation.workers`).

The pool is forked once per phase, after torch, transformers and flwr are imported (their memory is shared
copy-on-write) and before the server starts a thread or runs a torch operation. Each hospital belongs to one
worker for the whole phase, so its Flower Context lives there; a worker runs its hospitals' messages one
after another, in the order the server pushed them. A message goes to the worker as its protobuf wire bytes
and the reply comes back the same way, so what a hospital computes is what the sequential grid computes:
the same bytes in, the same seeds, the same torch thread count; the server sorts replies by partition before
aggregating, so the order in which workers finish never reaches the results.

A worker that dies (killed, out of memory) turns the message it was running into an error reply; a hospital
that runs longer than `federation.round_timeout` is answered with an error reply too and its worker is
replaced. Either way the replacement worker starts its hospitals with a fresh Context (as a restarted
SuperNode would) and the messages queued behind it run there. Workers die with the stage (PR_SET_PDEATHSIG,
even on SIGKILL) and ignore Ctrl-C, which the stage handles by closing the pool.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections import deque
from multiprocessing.connection import Connection, wait

from flwr.app import Context, Error, Message
from flwr.clientapp import ClientApp

from fedforge.fl.flower_compat import ErrorCode
from fedforge.fl.processes import die_with_parent

log = logging.getLogger(__name__)


def resolve_workers(workers: int | str, num_clients: int) -> int:
    """`federation.workers` as a count: auto = one per CPU core this process may use, at most one per hospital."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(num_clients, cores if workers == "auto" else int(workers)))


def assign(sizes: list[int], workers: int) -> list[int]:
    """Worker of each hospital: largest training set first, each to the least loaded worker (ties: lowest
    index), so the round's slowest worker has as little as the split allows. Deterministic from the sizes."""
    load, owner = [0] * workers, [0] * len(sizes)
    for hospital in sorted(range(len(sizes)), key=lambda h: (-sizes[h], h)):
        owner[hospital] = min(range(workers), key=lambda w: (load[w], w))
        load[owner[hospital]] += sizes[hospital]
    return owner


class WorkerPool:
    """`workers` forked processes running `client_app` for the hospitals (node id -> Context) each owns."""

    def __init__(self, client_app: ClientApp, contexts: dict[int, Context], owner: dict[int, int], workers: int,
                 timeout: float, run_client):
        self.client_app, self.contexts, self.owner = client_app, contexts, owner
        self.timeout, self.run_client = timeout, run_client
        self.processes: list = [None] * workers
        self.conns: list[Connection | None] = [None] * workers
        self.queues: list[deque] = [deque() for _ in range(workers)]  # (message, wire bytes) not yet sent
        self.running: list[tuple[Message, float] | None] = [None] * workers  # message in work, when it went out
        self.replies: dict[str, bytes | Message] = {}  # message id -> reply wire bytes (or an error reply)
        for worker in range(workers):
            self._start(worker)
        log.info("local engine: %d hospitals on %d worker processes", len(contexts), workers)

    def _start(self, worker: int) -> None:
        parent_end, child_end = multiprocessing.Pipe()
        own = {node: ctx for node, ctx in self.contexts.items() if self.owner[node] == worker}
        others = [c for c in self.conns if c is not None]  # the child must not keep the other workers' pipes
        process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(os.getpid(), child_end, parent_end, others, self.client_app, own, self.run_client),
            name=f"fedforge-worker-{worker}", daemon=True)
        process.start()
        child_end.close()
        self.processes[worker], self.conns[worker], self.running[worker] = process, parent_end, None

    def submit(self, message: Message, data: bytes) -> None:
        """Queue a message (already stamped with its id) for the worker of its hospital."""
        worker = self.owner[message.metadata.dst_node_id]
        self.queues[worker].append((message, data))
        self._send_next(worker)

    def _send_next(self, worker: int) -> None:
        if self.running[worker] is None and self.queues[worker]:
            message, data = self.queues[worker].popleft()
            self.running[worker] = (message, time.monotonic())
            self.conns[worker].send_bytes(data)  # the worker is idle and reads it whole at once

    def collect(self, message_ids: set[str]) -> None:
        """Block until every id in `message_ids` has a reply in `self.replies` (a real or an error one)."""
        while not message_ids <= self.replies.keys():
            busy = {self.conns[w]: w for w, run in enumerate(self.running) if run is not None}
            if not busy:
                raise RuntimeError(f"no worker holds messages {sorted(message_ids - self.replies.keys())}")
            first_deadline = min(run[1] for run in self.running if run is not None) + self.timeout
            for conn in wait(list(busy), timeout=max(0.0, first_deadline - time.monotonic())):
                self._receive(busy[conn])
            now = time.monotonic()
            for worker, run in enumerate(self.running):
                if run is not None and now - run[1] >= self.timeout:
                    self._replace(worker, ErrorCode.REPLY_MESSAGE_UNAVAILABLE,
                                  f"no reply within {self.timeout:.0f}s (federation.round_timeout); its worker "
                                  "process was restarted")

    def _receive(self, worker: int) -> None:
        message, _ = self.running[worker]
        try:
            self.replies[message.metadata.message_id] = self.conns[worker].recv_bytes()
        except (EOFError, OSError):
            self.processes[worker].join(timeout=5)
            self._replace(worker, ErrorCode.CLIENT_APP_CRASHED,
                          f"its worker process died (exit code {self.processes[worker].exitcode})")
            return
        self.running[worker] = None
        self._send_next(worker)

    def _replace(self, worker: int, code: int, reason: str) -> None:
        """Answer the worker's current message with an error, start a fresh worker, resend what was queued."""
        message, _ = self.running[worker]
        log.warning("node %s: %s", message.metadata.dst_node_id, reason)
        self.replies[message.metadata.message_id] = Message(Error(code=code, reason=reason), reply_to=message)
        self._stop(worker)
        self._start(worker)
        self._send_next(worker)

    def _stop(self, worker: int) -> None:
        with contextlib.suppress(OSError):
            self.conns[worker].close()
        process = self.processes[worker]
        if process.is_alive():
            process.kill()
        process.join(timeout=5)

    def close(self) -> None:
        """Stop every worker: close its pipe and kill it, busy, hung or idle (it holds nothing to save)."""
        for worker in range(len(self.processes)):
            self._stop(worker)


def _serve(parent_pid: int, conn: Connection, parent_end: Connection, others: list[Connection],
           client_app: ClientApp, contexts: dict[int, Context], run_client) -> None:
    """Worker main: wire bytes of a message in, wire bytes of the reply out, until the pipe closes."""
    die_with_parent()
    if os.getppid() != parent_pid:  # the stage died before die_with_parent took effect
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the stage stops us
    for other in [parent_end, *others]:
        other.close()
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        conn.send_bytes(run_client(client_app, contexts, data))
