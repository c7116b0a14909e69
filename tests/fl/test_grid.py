"""InProcessGrid: real Flower messages in and out, a persistent Context per node, crashes as error replies."""
from __future__ import annotations

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedforge.fl.flower_compat import ErrorCode, set_task_identity
from fedforge.fl.grid import InProcessGrid, node_id_for, wire_bytes

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    if context.node_config["partition-id"] == 1:
        raise RuntimeError("disk on fire")
    calls = context.state.config_records.get("calls", ConfigRecord({"n": 0}))
    calls["n"] = int(calls["n"]) + 1
    context.state["calls"] = calls
    arrays = msg.content["arrays"]
    arrays["w"] = Array(arrays["w"].numpy() + 1)  # mutates the client's copy only
    return Message(RecordDict({"arrays": arrays, "metrics": MetricRecord({"num-examples": 1, "n": calls["n"]})}),
                   reply_to=msg)


@pytest.fixture
def grid():
    set_task_identity(run_id=1, node_id=0)
    nodes = [{"partition-id": i, "num-partitions": 2} for i in range(2)]
    return InProcessGrid(app, nodes, {"phase": "T"})


def _messages(grid, arrays):
    return [Message(RecordDict({"arrays": arrays, "config": ConfigRecord({"server-round": 1})}), node, "train")
            for node in grid.get_node_ids()]


def test_replies_errors_state_and_isolation(grid):
    arrays = ArrayRecord({"w": Array(np.zeros(3, dtype=np.float32))})
    assert list(grid.get_node_ids()) == [node_id_for(0), node_id_for(1)]
    for expected_calls in (1, 2):
        replies = {r.metadata.src_node_id: r for r in grid.send_and_receive(_messages(grid, arrays))}
        ok, failed = replies[node_id_for(0)], replies[node_id_for(1)]
        assert ok.content["metrics"]["n"] == expected_calls  # Context.state persists across rounds
        np.testing.assert_array_equal(ok.content["arrays"]["w"].numpy(), np.ones(3))
        assert failed.has_error() and failed.error.code == ErrorCode.CLIENT_APP_RAISED_EXCEPTION
        assert "disk on fire" in failed.error.reason
        assert ok.metadata.reply_to_message_id and ok.metadata.dst_node_id == 0
    np.testing.assert_array_equal(arrays["w"].numpy(), np.zeros(3))  # the server's arrays were never touched
    assert grid.bytes_sent > 2 * 12 and grid.bytes_received > 0
    assert grid.pull_messages(["unknown"]) == []


def test_unknown_node_is_an_error(grid):
    msg = Message(RecordDict({}), 99, "train")
    with pytest.raises(ValueError, match="no node 99"):
        grid.push_messages([msg])


def test_a_shared_content_is_encoded_once_into_the_same_bytes():
    set_task_identity(run_id=1, node_id=0)
    content = RecordDict({"arrays": ArrayRecord([np.arange(1000, dtype=np.float32)]),
                          "config": ConfigRecord({"server-round": 1})})
    nodes = [1, 300, 2**40 + 7, 2**63 - 1]  # node ids of every varint width (Flower's are random 64-bit)
    messages = [Message(content, n, "train", group_id="1") for n in nodes]
    for i, m in enumerate(messages):
        m.metadata.__dict__["_message_id"] = f"id-{i}"
    shared: dict[int, bytes] = {}
    assert [wire_bytes(m, shared) for m in messages] == [wire_bytes(m) for m in messages]
    assert len(shared) == 1 and all(m.content is content for m in messages)
