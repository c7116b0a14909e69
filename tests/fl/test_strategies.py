"""Server-side aggregation: BatchNorm buffers never pass through a server optimizer, for every strategy."""
from __future__ import annotations

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.supercore.task_identity import TaskIdentity

from fedforge.fl import batchnorm, strategies
from tests.fl.conftest import tiny_config

KEYS = ("conv.weight", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked")


@pytest.fixture(autouse=True)
def _task_identity(monkeypatch):
    """Messages need a run/node id, which a ServerApp process has; set them for this test only."""
    monkeypatch.setattr(TaskIdentity, "_run_id", 1)
    monkeypatch.setattr(TaskIdentity, "_node_id", 0)
    monkeypatch.setattr(TaskIdentity, "_task_id", 1)


class FakeGrid:
    """Just enough of a Grid for configure_train: three connected nodes."""

    def get_node_ids(self):
        return [1, 2, 3]


def state(weight: float, mean: float, var: float, counter: int) -> ArrayRecord:
    return ArrayRecord({"conv.weight": Array(np.full(4, weight, np.float32)),
                        "bn.running_mean": Array(np.full(2, mean, np.float32)),
                        "bn.running_var": Array(np.full(2, var, np.float32)),
                        "bn.num_batches_tracked": Array(np.array(counter, np.int64))})


def reply(arrays: ArrayRecord, examples: int) -> Message:
    content = RecordDict({"arrays": arrays, "metrics": MetricRecord({"num-examples": examples})})
    return Message(content=content, reply_to=Message(RecordDict(), dst_node_id=1, message_type="train"))


def run_rounds(strategy, rounds: int) -> list[ArrayRecord]:
    """Each round: clients move the weight by -1.0 and report running_var 0.01 / 0.03 (weights 1:3)."""
    global_arrays, history = state(5.0, 0.0, 1.0, 7), []
    for rnd in range(1, rounds + 1):
        strategy.configure_train(rnd, global_arrays, ConfigRecord({}), FakeGrid())
        w = float(global_arrays["conv.weight"].numpy()[0]) - 1.0
        replies = [reply(state(w, 0.2, 0.01, 100 * rnd), 10), reply(state(w, 0.6, 0.03, 300 * rnd), 30)]
        global_arrays, _ = strategy.aggregate_train(rnd, replies)
        history.append(global_arrays)
    return history


@pytest.mark.parametrize("phase", [{"strategy": "fedavgm", "server_lr": 1.0, "server_momentum": 0.9},
                                   {"strategy": "fedadam", "server_lr": 0.5}])
def test_server_optimizer_moves_weights_but_buffers_get_the_weighted_mean(phase):
    strategy = strategies.build_strategy(tiny_config(**phase).phase("T"), seed=0)
    history = run_rounds(strategy, rounds=4)
    expected_mean = np.float32(0.2) * 0.25 + np.float32(0.6) * 0.75
    expected_var = np.float32(0.01) * 0.25 + np.float32(0.03) * 0.75
    for arrays in history:
        assert list(arrays.keys()) == list(KEYS)
        np.testing.assert_array_equal(arrays["bn.running_mean"].numpy(), np.full(2, expected_mean))
        np.testing.assert_array_equal(arrays["bn.running_var"].numpy(), np.full(2, expected_var))
        assert arrays["bn.num_batches_tracked"].numpy().tolist() == 7
        assert arrays["bn.num_batches_tracked"].numpy().dtype == np.int64
    plain_mean = 5.0 - len(history)  # what FedAvg would give: the optimizer did change the trainable weight
    assert float(history[-1]["conv.weight"].numpy()[0]) != pytest.approx(plain_mean)


def test_fedavg_buffers_equal_flowers_own_mean():
    strategy = strategies.build_strategy(tiny_config(strategy="fedavg").phase("T"), seed=0)
    arrays = run_rounds(strategy, rounds=1)[0]
    assert arrays["conv.weight"].numpy().tolist() == [4.0] * 4
    assert arrays["bn.running_var"].numpy().tolist() == [np.float32(0.01) * 0.25 + np.float32(0.03) * 0.75] * 2
    assert arrays["bn.num_batches_tracked"].numpy().tolist() == 7


def test_is_running_stat_and_is_counter():
    assert [batchnorm.is_running_stat(k) for k in KEYS] == [False, True, True, False]
    assert [batchnorm.is_counter(k) for k in KEYS] == [False, False, False, True]
