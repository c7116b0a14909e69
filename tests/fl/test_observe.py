"""ObservedGrid: silent nodes count as failed after the timeout; too few nodes fail fast, never hang."""
from __future__ import annotations

import pytest
from flwr.app import ConfigRecord, Message, MetricRecord, RecordDict

from fedforge.fl.flower_compat import set_task_identity
from fedforge.fl.observe import ObservedGrid, PhaseFailed


class Recorder:
    def __init__(self):
        self.events = []

    def emit(self, event_type, **fields):
        self.events.append((event_type, fields))


class HalfDeadGrid:
    """Node 1 answers at once; node 2 never does (a SuperNode that died mid-round)."""

    def __init__(self, nodes=(1, 2)):
        self.nodes, self.replies = list(nodes), {}

    def get_node_ids(self):
        return self.nodes

    def push_messages(self, messages):
        ids = []
        for i, m in enumerate(messages):
            m.metadata.__dict__["_message_id"] = f"id{i}-{m.metadata.dst_node_id}"
            if m.metadata.dst_node_id == 1:
                content = RecordDict({"metrics": MetricRecord({"num-examples": 5, "train_loss": 0.5}),
                                      "client": ConfigRecord({"client-id": "client_0", "size": 5,
                                                              "label-histogram": [5]})})
                self.replies[m.metadata.message_id] = Message(content, reply_to=m)
            ids.append(m.metadata.message_id)
        return ids

    def pull_messages(self, ids):
        return [self.replies.pop(i) for i in list(ids) if i in self.replies]


@pytest.fixture(autouse=True)
def _identity():
    set_task_identity(run_id=1, node_id=0)


def _train(nodes):
    return [Message(RecordDict({"config": ConfigRecord({"server-round": 3})}), n, "train") for n in nodes]


def test_silent_node_is_a_failed_client_after_the_timeout():
    telemetry = Recorder()
    grid = ObservedGrid(HalfDeadGrid(), telemetry, min_clients=1, describe_timeout=0.3)
    assert list(grid.describe(expected=2)) == ["client_0"]
    replies = grid.send_and_receive(_train([1, 2]), timeout=0.3)
    assert len(replies) == 1
    stats = grid.rounds[3]
    assert list(stats.train) == ["client_0"] and list(stats.failed) == ["node_2"]
    assert "no reply within 0.3s" in stats.failed["node_2"]
    kinds = [k for k, _ in telemetry.events]
    assert kinds.count("client_failed") == 1 and kinds.count("client_update") == 1 and kinds[0] == "round_started"


def test_too_few_updates_raise_instead_of_hanging():
    grid = ObservedGrid(HalfDeadGrid(), Recorder(), min_clients=2, describe_timeout=0.3)
    with pytest.raises(PhaseFailed, match="round 3: only 1 of 2 clients"):
        grid.send_and_receive(_train([1, 2]), timeout=0.3)


def test_too_few_connected_nodes_fail_fast():
    grid = ObservedGrid(HalfDeadGrid(nodes=[1]), Recorder(), min_clients=2, describe_timeout=0.5)
    with pytest.raises(PhaseFailed, match="only 1 clients connected"):
        grid.describe(expected=3)

