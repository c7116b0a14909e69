"""A Grid wrapper that sees every message and reply of a phase: per-round bookkeeping and client telemetry.

It wraps whatever Grid the ServerApp got (the in-process one or the Deployment Engine's), so failures,
bytes and per-client metrics are recorded the same way for both engines. Flower's strategy loop calls
send_and_receive once for training and once for evaluation per round; evaluate_fn (server.py) closes the round.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from flwr.app import ConfigRecord, Message, RecordDict
from flwr.serverapp import Grid

from fedforge.errors import UserError
from fedforge.fl.flower_compat import message_to_proto
from fedforge.fl.grid import wire_bytes

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2  # reply polling interval on a remote grid (the in-process grid answers during push)


class PhaseFailed(UserError, RuntimeError):
    """The phase cannot go on (too few clients answered); the message says why and what to do."""


def wire_size(message: Message, shared: dict[int, bytes] | None = None) -> int:
    """Bytes of a message in Flower's protobuf wire format; `shared` encodes a shared content once (wire_bytes)."""
    return message_to_proto(message).ByteSize() if shared is None else len(wire_bytes(message, shared))


@dataclass
class RoundStats:
    """What one round's messages and replies showed."""

    round: int
    started: float = field(default_factory=time.perf_counter)
    sampled: list[str] = field(default_factory=list)
    train: dict[str, dict] = field(default_factory=dict)      # client -> {train_loss, num-examples, seconds}
    evaluate: dict[str, dict] = field(default_factory=dict)   # client -> {eval_loss, eval_acc, ...}
    failed: dict[str, str] = field(default_factory=dict)      # client -> "stage: reason"
    bytes_down: int = 0
    bytes_up: int = 0


class ObservedGrid(Grid):
    """Delegates to `inner`; records each round in `self.rounds` and emits client events via `telemetry`."""

    def __init__(self, inner: Grid, telemetry, min_clients: int, describe_timeout: float = 600.0):
        self.inner, self.telemetry, self.min_clients = inner, telemetry, min_clients
        self.describe_timeout = describe_timeout
        self.names: dict[int, str] = {}
        self.clients: dict[str, dict] = {}
        self.rounds: dict[int, RoundStats] = {}

    # -- plain delegation ----------------------------------------------------------------------------
    def set_run(self, run) -> None:
        self.inner.set_run(run)

    @property
    def run(self):
        return self.inner.run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None) -> Message:
        return self.inner.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        # In partition-id order: the strategy's seeded sampling then picks the same hospitals on every engine
        # (Flower's node ids are random on the Simulation and Deployment Engines).
        return sorted(self.inner.get_node_ids(), key=self._by_partition)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self.inner.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self.inner.pull_messages(message_ids)

    # -- observed traffic ----------------------------------------------------------------------------
    def name(self, node_id: int) -> str:
        """Client id of a node (learned from its describe reply), or node_<id> if it never answered."""
        return self.names.get(node_id, f"node_{node_id}")

    def _by_partition(self, node_id: int) -> tuple[float, int]:
        """Sort key: the node's partition id (client_<id>), nodes that never described themselves last."""
        name = self.names.get(node_id, "")
        return (int(name.removeprefix("client_")) if name.startswith("client_") else float("inf"), node_id)

    def describe(self, expected: int) -> dict[str, dict]:
        """Ask every node who it is (client id, size, label histogram); wait for `expected` nodes to connect."""
        deadline = time.monotonic() + self.describe_timeout
        while len(nodes := sorted(self.inner.get_node_ids())) < expected and time.monotonic() < deadline:
            log.info("waiting for clients: %d of %d connected", len(nodes), expected)
            time.sleep(1.0)
        if len(nodes) < self.min_clients:
            raise PhaseFailed(f"only {len(nodes)} clients connected within {self.describe_timeout:.0f}s; the phase "
                              f"needs min_clients={self.min_clients}. Start the missing SuperNodes or lower it.")
        messages = [Message(RecordDict({"config": ConfigRecord({"server-round": 0})}), node, "query")
                    for node in nodes]
        for reply in self._exchange(messages, self.describe_timeout):
            if reply.has_error():
                log.warning("node %s did not describe itself: %s", reply.metadata.src_node_id, reply.error.reason)
                continue
            info = reply.content["client"]
            self.names[reply.metadata.src_node_id] = str(info["client-id"])
            self.clients[str(info["client-id"])] = {"size": int(info["size"]),
                                                    "label_histogram": list(info["label-histogram"])}
        return dict(sorted(self.clients.items()))

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        messages = list(messages)
        if not messages:
            return []
        stage = messages[0].metadata.message_type.split(".")[0]
        server_round = int(messages[0].content["config"]["server-round"])
        clients = [self.name(m.metadata.dst_node_id) for m in messages]
        if stage == "train":
            self.rounds[server_round] = RoundStats(server_round, sampled=clients)
            self.telemetry.emit("round_started", round=server_round, clients=clients)
        stats = self.rounds[server_round]
        node_state = "training" if stage == "train" else "evaluating"
        for client in clients:
            self.telemetry.emit("heartbeat", node=client, state=node_state)
        shared: dict[int, bytes] = {}  # the content every node gets, encoded once (the messages hold it)
        down = {m.metadata.dst_node_id: wire_size(m, shared) for m in messages}
        stats.bytes_down += sum(down.values())
        # Sorted by partition: aggregation sums floats in reply order, so a fixed order keeps results reproducible.
        replies = sorted(self._exchange(messages, timeout), key=lambda r: self._by_partition(r.metadata.src_node_id))
        for node in sorted(set(down) - {r.metadata.src_node_id for r in replies}, key=self._by_partition):
            self._failed(stats, stage, self.name(node), f"no reply within {timeout}s")
        for reply in replies:
            client, up = self.name(reply.metadata.src_node_id), wire_size(reply)
            stats.bytes_up += up
            if reply.has_error():
                self._failed(stats, stage, client, reply.error.reason)
                continue
            metrics = dict(next(iter(reply.content.metric_records.values())))
            (stats.train if stage == "train" else stats.evaluate)[client] = metrics
            self.telemetry.emit(
                "client_update", round=server_round, client=client, stage=stage, state="idle",
                num_examples=int(metrics.get("num-examples", 0)), train_loss=metrics.get("train_loss"),
                metrics={k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
                seconds=float(metrics.get("seconds", 0.0)), bytes_down=down.get(reply.metadata.src_node_id, 0),
                bytes_up=up)
        if stage == "train" and len(stats.train) < self.min_clients:
            failed = "; ".join(f"{c}: {why}" for c, why in stats.failed.items()) or "none failed"
            raise PhaseFailed(f"round {server_round}: only {len(stats.train)} of {len(messages)} clients returned an "
                              f"update, below min_clients={self.min_clients} ({failed}). Fix the failing clients or "
                              f"lower phases.<phase>.min_clients.")
        return replies

    def exchange_statistics(self, messages: list[Message], timeout: float | None) -> list[Message]:
        """A bn: recalibrated statistics pass inside round aggregation (fl/strategies.py): its bytes count to the
        round; a hospital that fails it is only logged and left out. Returns the good replies, by partition."""
        stats = self.rounds[int(messages[0].content["config"]["server-round"])]
        stats.bytes_down += sum(wire_size(m) for m in messages)
        replies = sorted(self._exchange(messages, timeout), key=lambda r: self._by_partition(r.metadata.src_node_id))
        stats.bytes_up += sum(wire_size(r) for r in replies)
        for reply in replies:
            if reply.has_error():
                log.warning("round %d: %s failed the BatchNorm statistics pass: %s", stats.round,
                            self.name(reply.metadata.src_node_id), reply.error.reason)
        return [reply for reply in replies if not reply.has_error()]

    def _exchange(self, messages: list[Message], timeout: float | None) -> list[Message]:
        """Push, then pull every 0.2 s until all replied or `timeout` (Flower's HttpGrid sleeps 3 s per pull)."""
        pending = set(self.inner.push_messages(messages))
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        replies: list[Message] = []
        while pending:
            got = list(self.inner.pull_messages(pending))
            replies += got
            pending -= {r.metadata.reply_to_message_id for r in got}
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        return replies

    def _failed(self, stats: RoundStats, stage: str, client: str, reason: str) -> None:
        stats.failed.setdefault(client, f"{stage}: {reason}")
        log.warning("round %d: %s failed in %s: %s", stats.round, client, stage, reason)
        self.telemetry.emit("client_failed", round=stats.round, client=client, stage=stage, error=str(reason)[:4000])
        self.telemetry.emit("heartbeat", node=client, state="failed")
