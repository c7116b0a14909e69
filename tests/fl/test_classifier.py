"""phases.<X>.classifier: per_class: row k of the last layer is averaged by the hospitals' counts of class k."""
from __future__ import annotations

import json

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict

from fedforge import config
from fedforge.fl import appconfig, classifier, engine, strategies, task
from fedforge.models.factory import build_model, load_model
from tests.fl.conftest import tiny_config, tiny_raw
from tests.fl.test_strategies import FakeGrid, _task_identity  # noqa: F401 (the autouse fixture)

COUNTS = {"client_0": [3, 0, 5], "client_1": [1, 2, 0]}  # class 1 only at client_1, class 2 only at client_0


def arrays(weight: float, head: list[list[float]], bias: list[float]) -> ArrayRecord:
    return ArrayRecord({"body.weight": Array(np.full(4, weight, np.float32)),
                        "head.weight": Array(np.asarray(head, np.float32)),
                        "head.bias": Array(np.asarray(bias, np.float32))})


def reply(client: str, record: ArrayRecord, examples: int) -> Message:
    content = RecordDict({"arrays": record, "metrics": MetricRecord({"num-examples": examples}),
                          "client": ConfigRecord({"client-id": client})})
    return Message(content=content, reply_to=Message(RecordDict(), dst_node_id=1, message_type="train"))


def replies() -> list[Message]:
    return [reply("client_0", arrays(1.0, [[1, 1], [9, 9], [2, 2]], [1, 9, 2]), 8),
            reply("client_1", arrays(3.0, [[5, 5], [4, 4], [7, 7]], [5, 4, 7]), 3)]


@pytest.fixture
def resnet_and_cnn():
    cfg = tiny_config()
    return [build_model(cfg.model.model_copy(update={"arch": arch}), 3, ["a", "b", "c"], 28, seed=0)
            for arch in ("resnet", "cnn")]


def test_classifier_keys_are_the_last_layer_with_one_output_per_class(resnet_and_cnn):
    resnet, cnn = resnet_and_cnn
    assert classifier.classifier_keys(resnet) == ["classifier.1.weight", "classifier.1.bias"]
    assert classifier.classifier_keys(cnn) == ["classifier.weight", "classifier.bias"]


@pytest.mark.parametrize("strategy", ["fedavg", "fedavgm", "fedmedian"])
def test_each_class_row_is_the_count_weighted_mean_of_the_hospitals_that_have_it(strategy):
    plain = strategies.build_strategy(tiny_config(strategy=strategy).phase("T"), seed=0)
    per_class = strategies.build_strategy(tiny_config(strategy=strategy).phase("T"), seed=0)
    per_class.use_per_class_classifier(["head.weight", "head.bias"], COUNTS)
    start = arrays(2.0, [[0, 0], [0, 0], [0, 0]], [0, 0, 0])
    results = []
    for s in (plain, per_class):
        s.configure_train(1, start, ConfigRecord({}), FakeGrid())
        results.append(s.aggregate_train(1, replies())[0])
    averaged, weighted = results
    # class 0: (3 x 1 + 1 x 5) / 4 = 2; class 1: client_1's row only; class 2: client_0's row only
    assert weighted["head.weight"].numpy().tolist() == [[2.0, 2.0], [4.0, 4.0], [2.0, 2.0]]
    assert weighted["head.bias"].numpy().tolist() == [2.0, 4.0, 2.0]
    assert weighted["body.weight"].numpy().tolist() == averaged["body.weight"].numpy().tolist()  # the strategy's
    assert averaged["head.bias"].numpy().tolist() != [2.0, 4.0, 2.0]


def test_a_class_no_replying_hospital_has_keeps_the_strategys_row():
    strategy = strategies.build_strategy(tiny_config(strategy="fedavg").phase("T"), seed=0)
    strategy.use_per_class_classifier(["head.weight", "head.bias"], {"client_0": [3, 0, 5], "client_1": [1, 0, 0]})
    strategy.configure_train(1, arrays(2.0, [[0, 0]] * 3, [0, 0, 0]), ConfigRecord({}), FakeGrid())
    result = strategy.aggregate_train(1, replies())[0]
    mean_bias_1 = (8 * 9 + 3 * 4) / 11  # FedAvg's own, weighted by num-examples
    assert result["head.bias"].numpy().tolist() == pytest.approx([2.0, mean_bias_1, 2.0])


@pytest.mark.parametrize("change, message", [
    ({"dp": {"mode": "client"}}, r"phases.T.classifier: got 'per_class'; allowed: averaged with dp.mode client"),
    ({"federation": "secaggplus"}, r"phases.T.classifier: got 'per_class'; allowed: averaged with dp.mode client"),
])
def test_per_class_is_refused_with_dp_or_secure_aggregation(change, message):
    raw = tiny_raw(classifier="per_class", norm="group", min_clients=2)
    if "dp" in change:
        raw["phases"]["T"]["dp"] = {**raw["phases"]["T"]["dp"], **change["dp"]}
    else:
        raw["partition"]["num_clients"] = 3
        raw["federation"]["secure_aggregation"] = change["federation"]
    with pytest.raises(config.ConfigError, match=message):
        config.parse(raw)


@pytest.mark.slow
def test_a_per_class_phase_runs_and_its_head_is_the_hospitals_weighted_rows(tiny_repo, monkeypatch):
    """The server wires the hospitals' label histograms (from describe) into the strategy: spy on aggregation."""
    seen = []
    original = classifier.per_class_rows

    def spy(replies, class_counts, keys):
        rows = original(replies, class_counts, keys)
        seen.append((dict(class_counts), list(keys), rows))
        return rows

    monkeypatch.setattr(classifier, "per_class_rows", spy)
    cfg = tiny_config(classifier="per_class", rounds=2)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=tiny_repo))
    metrics = json.loads((tiny_repo / "artifacts/federated/T/metrics.json").read_text())
    assert metrics["rounds"] == 2 and len(seen) == 2
    counts, keys, rows = seen[-1]
    assert counts == {f"client_{i}": task.client_summary(tiny_repo, "bloodmnist", i)["label_histogram"]
                      for i in (0, 1)}
    assert keys == ["classifier.1.weight", "classifier.1.bias"]
    final = load_model(tiny_repo / "artifacts/federated/T/model").state_dict()  # the last round's aggregate
    for key, (values, which) in rows.items():
        assert which.any()
        np.testing.assert_allclose(final[key].numpy()[which], values[which], rtol=1e-6)
