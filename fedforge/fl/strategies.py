"""Flower strategies for the phases, made resumable: round offset, seeded sampling, saveable server state.

`strategy.start()` always counts rounds from 1, so a resumed phase runs the remaining rounds with
`round_offset` = rounds already done; every hook sees the true round (FedAdam's bias correction uses it).
Client sampling uses the module-level `random`, so it is re-seeded from (seed, round) each round.
Server state that outlives a round: FedAdam/FedYogi/FedAdagrad m_t/v_t (dicts), FedAvgM momentum_vector
(list); FedMedian and FedTrimmedAvg keep none.
BatchNorm buffers never go through a server optimizer (FedAdam/FedAvgM would move running variances
below zero): after any strategy aggregates, running statistics are replaced by the plain example-weighted
mean of the replies and `num_batches_tracked` counters keep the global value the round started from.
phases.<X>.bn local / recalibrated (fl/batchnorm.py) hook in here too: a bn: local reply's missing BatchNorm
keys are filled from the round's start arrays before any strategy sees it, and every message says which
round's copy each hospital uses ("bn-rounds", by partition id); recalibrated replaces the running
statistics with the ones the hospitals re-estimate under the new global weights (a "query.bn_stats" pass).
"""
from __future__ import annotations

import logging
import random

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, RecordDict
from flwr.serverapp.strategy import FedAdagrad, FedAdam, FedAvg, FedAvgM, FedMedian, FedProx, FedTrimmedAvg, FedYogi

from fedforge import paths
from fedforge.config import PhaseConfig
from fedforge.fl import batchnorm, classifier
from fedforge.fl.batchnorm import is_counter, is_running_stat
from fedforge.fl.flower_compat import aggregate_arrayrecords

log = logging.getLogger(__name__)
STATISTICS_MESSAGE = "query.bn_stats"  # bn: recalibrated: the ClientApp's statistics pass (client_app.py)


def buffer_values(replies: list, global_arrays: ArrayRecord, weighted_by: str) -> dict[str, Array]:
    """The round's BatchNorm buffers: running statistics = the plain weighted mean of the replies (Flower's own
    FedAvg arithmetic, so FedAvg results are unchanged), counters = the global value sent this round.
    Computed before the strategy aggregates: FedMedian/FedTrimmedAvg pop the arrays out of the replies."""
    valid = [RecordDict({"arrays": ArrayRecord({k: a for k, a in msg.content["arrays"].items() if is_running_stat(k)
                                                or is_counter(k)}),
                         "metrics": next(iter(msg.content.metric_records.values()))})
             for msg in replies if not msg.has_error()]  # buffers only: averaging every weight here cost ~3 s/round
    if not valid:
        return {}
    mean = aggregate_arrayrecords(valid, weighted_by)
    values = {key: mean[key] for key in mean if is_running_stat(key)}
    values.update({key: Array(global_arrays[key].numpy()) for key in mean if is_counter(key)})
    return values


class ResumableRounds:
    """Mixin: shift every round number by `round_offset`, seed node sampling per round, apply phases.<X>.bn."""

    round_offset = 0
    sampling_seed = 0
    round_start_arrays = None  # set by configure_train: the global arrays the current round started from
    grid = None  # set by configure_train: the grid of the run (bn: recalibrated sends its statistics pass on it)
    bn = "global"  # phases.<X>.bn, set by use_batchnorm
    trained_rounds: list[int] | None = None  # bn: local, by partition id: the last round each hospital trained in (0 = none)
    statistics_timeout = None
    class_counts: dict[str, list[int]] | None = None  # classifier: per_class: each hospital's label histogram
    classifier_keys: tuple[str, ...] = ()  # classifier: per_class: the last linear layer's weight and bias keys

    def use_batchnorm(self, bn: str, num_clients: int, rows: list[dict], timeout: float) -> None:
        """Apply phases.<X>.bn; `rows` (a resumed run's) say which round each hospital last trained in."""
        self.bn, self.statistics_timeout = bn, timeout
        self.trained_rounds = [0] * num_clients
        for row in rows:
            for client in row["clients_ok"]:
                self.trained_rounds[paths.partition_id(client)] = int(row["round"])

    def use_per_class_classifier(self, keys: list[str], class_counts: dict[str, list[int]]) -> None:
        """classifier: per_class: average the rows of `keys` per class by the hospitals' counts (fl/classifier.py)."""
        self.classifier_keys, self.class_counts = tuple(keys), dict(class_counts)

    def _with_bn_rounds(self, config: ConfigRecord) -> ConfigRecord:
        return ConfigRecord({**config, "bn-rounds": list(self.trained_rounds)}) if self.bn == "local" else config

    def configure_train(self, server_round, arrays, config, grid):
        actual = server_round + self.round_offset
        random.seed(f"{self.sampling_seed}:train:{actual}")
        self.round_start_arrays, self.grid = arrays, grid  # the global model this round started from (counters kept)
        return super().configure_train(actual, arrays, self._with_bn_rounds(config), grid)

    def aggregate_train(self, server_round, replies):
        actual = server_round + self.round_offset
        replies = list(replies)
        if self.bn == "local":
            self._fill_local_batchnorm(replies, actual)
        buffers = buffer_values(replies, self.round_start_arrays, self.weighted_by_key)
        rows = classifier.per_class_rows(replies, self.class_counts, self.classifier_keys) if self.class_counts else {}
        aggregated, metrics = super().aggregate_train(actual, replies)  # FedMedian pops the replies' arrays
        if aggregated is not None:  # FedAvgM keeps `aggregated` as its current_arrays: edited in place, it agrees
            for key, value in buffers.items():
                aggregated[key] = value
            classifier.apply_rows(aggregated, rows)
            if self.bn == "recalibrated":
                self._recalibrate(aggregated, replies, actual)
        return aggregated, metrics

    def _fill_local_batchnorm(self, replies: list[Message], actual: int) -> None:
        """bn: local: complete each reply with the server's BatchNorm values (the hospital kept its own) and
        note the round as the hospital's latest copy."""
        for msg in replies:
            if msg.has_error():
                continue
            msg.content["arrays"] = batchnorm.completed(msg.content["arrays"], self.round_start_arrays)
            self.trained_rounds[paths.partition_id(str(msg.content["client"]["client-id"]))] = actual

    def _recalibrate(self, aggregated: ArrayRecord, replies: list[Message], actual: int) -> None:
        """bn: recalibrated: the hospitals that trained re-estimate BatchNorm statistics under `aggregated`;
        their batch-weighted mean replaces its running statistics (in place). A hospital that fails is left out."""
        nodes = [msg.metadata.src_node_id for msg in replies if not msg.has_error()]
        content = RecordDict({"arrays": aggregated, "config": ConfigRecord({"server-round": actual})})
        answers = self.grid.exchange_statistics([Message(content, node, STATISTICS_MESSAGE) for node in nodes],
                                                timeout=self.statistics_timeout)
        if not answers:
            log.warning("round %d: no hospital re-estimated BatchNorm statistics; keeping the averaged ones", actual)
            return
        pooled = batchnorm.pooled_statistics([(msg.content["arrays"], int(msg.content["metrics"]["num-batches"]))
                                              for msg in answers])
        for key, value in pooled.items():
            aggregated[key] = value

    def configure_evaluate(self, server_round, arrays, config, grid):
        actual = server_round + self.round_offset
        random.seed(f"{self.sampling_seed}:evaluate:{actual}")
        return super().configure_evaluate(actual, arrays, self._with_bn_rounds(config), grid)

    def aggregate_evaluate(self, server_round, replies):
        return super().aggregate_evaluate(server_round + self.round_offset, replies)


class ResumableFedAvg(ResumableRounds, FedAvg):
    """FedAvg (McMahan et al. 2017)."""


class ResumableFedProx(ResumableRounds, FedProx):
    """FedProx (Li et al. 2020): FedAvg + proximal-mu in the train config; the client applies it."""


class ResumableFedAdam(ResumableRounds, FedAdam):
    """FedAdam (Reddi et al. 2021): Adam on the server over the averaged client update."""


class ResumableFedAvgM(ResumableRounds, FedAvgM):
    """FedAvgM (Hsu et al. 2019): server momentum over the averaged client update."""


class ResumableFedYogi(ResumableRounds, FedYogi):
    """FedYogi (Reddi et al. 2021): Adam with Yogi's additive second-moment update on the server."""


class ResumableFedAdagrad(ResumableRounds, FedAdagrad):
    """FedAdagrad (Reddi et al. 2021): Adagrad on the server over the averaged client update."""


class ResumableFedMedian(ResumableRounds, FedMedian):
    """FedMedian (Yin et al. 2018): coordinate-wise median of the client weights (robust to outliers)."""


class ResumableFedTrimmedAvg(ResumableRounds, FedTrimmedAvg):
    """FedTrimmedAvg (Yin et al. 2018): coordinate-wise mean after cutting trim_beta of the clients at each end."""


STRATEGY_CLASSES = {"fedavg": ResumableFedAvg, "fedprox": ResumableFedProx, "fedadam": ResumableFedAdam,
                    "fedavgm": ResumableFedAvgM, "fedyogi": ResumableFedYogi, "fedadagrad": ResumableFedAdagrad,
                    "fedmedian": ResumableFedMedian, "fedtrimmedavg": ResumableFedTrimmedAvg}  # one per config.Strategy


def build_strategy(phase: PhaseConfig, seed: int, round_offset: int = 0):
    """The phase's Flower strategy; min_clients bounds sampling and availability (all clients evaluate)."""
    common = {"fraction_train": phase.fraction_train, "fraction_evaluate": 1.0,
              "min_train_nodes": phase.min_clients, "min_evaluate_nodes": phase.min_clients,
              "min_available_nodes": phase.min_clients}
    adaptive = {"beta_1": phase.server_beta_1, "beta_2": phase.server_beta_2, "tau": phase.server_tau}
    own = {"fedavg": {}, "fedprox": {"proximal_mu": phase.proximal_mu},
           "fedadam": {"eta": phase.server_lr, "eta_l": phase.lr, **adaptive},
           "fedyogi": {"eta": phase.server_lr, "eta_l": phase.lr, **adaptive},
           "fedadagrad": {"eta": phase.server_lr, "eta_l": phase.lr, "tau": phase.server_tau},
           "fedavgm": {"server_learning_rate": phase.server_lr, "server_momentum": phase.server_momentum},
           "fedmedian": {}, "fedtrimmedavg": {"beta": phase.trim_beta}}
    strategy = STRATEGY_CLASSES[phase.strategy](**common, **own[phase.strategy])
    strategy.round_offset = round_offset
    strategy.sampling_seed = seed
    return strategy


def strategy_state(strategy) -> dict[str, np.ndarray]:
    """Server-side optimizer state as flat named arrays (empty for FedAvg/FedProx)."""
    state: dict[str, np.ndarray] = {}
    for name in ("m_t", "v_t"):
        for key, value in (getattr(strategy, name, None) or {}).items():
            state[f"{name}/{key}"] = np.asarray(value)
    for i, value in enumerate(getattr(strategy, "momentum_vector", None) or []):
        state[f"momentum_vector/{i:05d}"] = np.asarray(value)
    return state


def load_strategy_state(strategy, state: dict[str, np.ndarray]) -> None:
    """Put state saved by strategy_state back onto a freshly built strategy of the same kind."""
    for name in ("m_t", "v_t"):
        part = {k.split("/", 1)[1]: v for k, v in state.items() if k.startswith(f"{name}/")}
        if part:
            setattr(strategy, name, part)
    momentum = [state[k] for k in sorted(k for k in state if k.startswith("momentum_vector/"))]
    if momentum:
        strategy.momentum_vector = momentum
