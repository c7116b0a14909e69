"""In-process Flower Grid: the ServerApp's strategy talks to ClientApp objects in this process, no network.

Each message is serialized to Flower's protobuf wire format and back, exactly as the SuperLink would carry
it, so the client never shares objects with the server and the byte counts are real. Every node has its
own Context (node_config + a RecordDict state that persists across rounds). A ClientApp that raises
becomes an error reply Message, as Flower's SuperNode does, so failure handling is the same as deployment.
With `workers` = 1 the clients run one after another inside push_messages; with more, a WorkerPool
(workers.py) runs them in forked processes and pull_messages waits for their replies. Both compute the same
bytes (tests/fl/test_determinism.py). Measured overhead: benchmarks/federation_overhead.py and timing.json.
"""
from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Iterable

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid

from fedforge.fl.flower_compat import ErrorCode, ProtoMessage, Run, message_from_proto, message_to_proto
from fedforge.fl.workers import WorkerPool, assign

log = logging.getLogger(__name__)


def wire_bytes(message: Message, shared: dict[int, bytes] | None = None) -> bytes:
    """The message in Flower's protobuf wire format.

    `shared` (id of a RecordDict -> its encoded content field) encodes a content several messages share once:
    a strategy sends one RecordDict (the global arrays) to every node, ~5 ms of encoding per node otherwise.
    A protobuf is the encodings of its fields in field-number order (metadata 1, content 2), so the envelope
    (the message encoded with an empty content, metadata only) + the cached content field is the same bytes.
    """
    if shared is None or not message.has_content():
        return message_to_proto(message).SerializeToString()
    content = message.content
    if id(content) not in shared:
        full = message_to_proto(message)
        data = full.SerializeToString()
        shared[id(content)] = data[ProtoMessage(metadata=full.metadata).ByteSize():]
        return data
    message.content = RecordDict()  # the envelope only; the caller's content is put back at once
    try:
        envelope = message_to_proto(message)
    finally:
        message.content = content
    return ProtoMessage(metadata=envelope.metadata).SerializeToString() + shared[id(content)]


def node_id_for(partition_id: int) -> int:
    """Stable node id of a partition (Flower draws random ids; stable ids keep runs reproducible)."""
    return 1_000 + int(partition_id)


def run_client(client_app: ClientApp, contexts: dict[int, Context], data: bytes) -> bytes:
    """The reply's wire bytes for a message's wire bytes, run with its node's Context. An exception becomes an
    error reply, as Flower's SuperNode sends, so a client crash never stops the server."""
    incoming = message_from_proto(ProtoMessage.FromString(data))
    try:
        reply = client_app(incoming, contexts[incoming.metadata.dst_node_id])
    except Exception as exc:  # noqa: BLE001 - a client crash must not stop the server
        log.warning("node %s raised in %s: %s", incoming.metadata.dst_node_id, incoming.metadata.message_type, exc)
        log.debug("%s", traceback.format_exc())
        reply = Message(Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=f"{type(exc).__name__}: {exc}"),
                        reply_to=incoming)
    reply.metadata.__dict__["_message_id"] = str(uuid.uuid4())
    return wire_bytes(reply)


class InProcessGrid(Grid):
    """A flwr Grid whose nodes are ClientApp calls on this machine (one Context per node): in this process, or
    with `workers` > 1 in a WorkerPool, each hospital's messages bounded by `timeout` seconds."""

    def __init__(self, client_app: ClientApp, node_configs: list[dict], run_config: dict, run_id: int = 1,
                 workers: int = 1, sizes: list[int] | None = None, timeout: float = float("inf")):
        self.client_app = client_app
        self._run = Run.create_empty(run_id)
        self.contexts = {
            node_id_for(nc["partition-id"]): Context(run_id=run_id, node_id=node_id_for(nc["partition-id"]),
                                                     node_config=dict(nc), state=RecordDict(),
                                                     run_config=dict(run_config))
            for nc in node_configs}
        self._replies: dict[str, Message] = {}
        self.bytes_sent = 0
        self.bytes_received = 0
        self.pool = None
        if workers > 1:
            nodes = list(self.contexts)
            owner = assign(sizes or [1] * len(nodes), workers)
            self.pool = WorkerPool(client_app, self.contexts, dict(zip(nodes, owner, strict=True)), workers,
                                   timeout, run_client)

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return Run(**vars(self._run))

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int, group_id: str,
                       ttl: float | None = None) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def _received(self, reply: bytes | Message) -> Message:
        """A reply's wire bytes as a Message (counted); an error reply the pool wrote for a dead or hung worker
        is already one."""
        if isinstance(reply, Message):
            return reply
        self.bytes_received += len(reply)
        return message_from_proto(ProtoMessage.FromString(reply))

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids, shared = [], {}  # the content the messages share is encoded once (wire_bytes)
        for message in messages:
            if message.metadata.dst_node_id not in self.contexts:
                raise ValueError(f"no node {message.metadata.dst_node_id}; nodes are {list(self.contexts)}")
            message.metadata.__dict__["_message_id"] = str(uuid.uuid4())  # fixed length: byte counts stay reproducible
            message.metadata.__dict__["_run_id"] = self._run.run_id
            data = wire_bytes(message, shared)
            self.bytes_sent += len(data)
            if self.pool is None:  # run the ClientApp here, now
                self._replies[message.metadata.message_id] = self._received(
                    run_client(self.client_app, self.contexts, data))
            else:
                self.pool.submit(message, data)
            ids.append(message.metadata.message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        """The replies to `message_ids`; with workers, waits until each has one (a hang ends as an error reply)."""
        message_ids = list(message_ids)
        if self.pool is not None:
            self.pool.collect({mid for mid in message_ids if mid not in self._replies})
            for mid in message_ids:
                if mid in self.pool.replies:
                    self._replies[mid] = self._received(self.pool.replies.pop(mid))
        return [self._replies.pop(mid) for mid in message_ids if mid in self._replies]

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        # Every reply exists when pull returns (timeout unused: the pool bounds each hospital by its own).
        return self.pull_messages(self.push_messages(messages))

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self.pool is not None:
            self.pool.close()
