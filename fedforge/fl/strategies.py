"""Flower strategies for the phases, made resumable: round offset, seeded sampling, saveable server state.

`strategy.start()` always counts rounds from 1, so a resumed phase runs the remaining rounds with
`round_offset` = rounds already done; every hook sees the true round (FedAdam's bias correction uses it).
Client sampling uses the module-level `random`, so it is re-seeded from (seed, round) each round.
Server state that outlives a round: FedAdam/FedYogi/FedAdagrad m_t/v_t (dicts), FedAvgM momentum_vector
(list); FedMedian and FedTrimmedAvg keep none.
BatchNorm buffers never go through a server optimizer (FedAdam/FedAvgM would move running variances
below zero): after any strategy aggregates, running statistics are replaced by the plain example-weighted
mean of the replies and `num_batches_tracked` counters keep the global value the round started from.
"""
from __future__ import annotations

import random

import numpy as np
from flwr.app import Array, ArrayRecord
from flwr.serverapp.strategy import FedAdagrad, FedAdam, FedAvg, FedAvgM, FedMedian, FedProx, FedTrimmedAvg, FedYogi

from fedforge.config import PhaseConfig
from fedforge.fl.flower_compat import aggregate_arrayrecords

RUNNING_STAT_NAMES = ("running_mean", "running_var")  # float BatchNorm buffers: plain weighted mean
COUNTER_NAME = "num_batches_tracked"  # integer BatchNorm counter: never averaged


def is_running_stat(key: str) -> bool:
    """True for a BatchNorm running mean/variance in a state_dict key."""
    return key.rsplit(".", 1)[-1] in RUNNING_STAT_NAMES


def is_counter(key: str) -> bool:
    """True for a BatchNorm num_batches_tracked counter in a state_dict key."""
    return key.rsplit(".", 1)[-1] == COUNTER_NAME


def buffer_values(replies: list, global_arrays: ArrayRecord, weighted_by: str) -> dict[str, Array]:
    """The round's BatchNorm buffers: running statistics = the plain weighted mean of the replies (Flower's own
    FedAvg arithmetic, so FedAvg results are unchanged), counters = the global value sent this round.
    Computed before the strategy aggregates: FedMedian/FedTrimmedAvg pop the arrays out of the replies."""
    valid = [msg.content for msg in replies if not msg.has_error()]
    if not valid:
        return {}
    mean = aggregate_arrayrecords(valid, weighted_by)
    values = {key: mean[key] for key in mean if is_running_stat(key)}
    values.update({key: Array(global_arrays[key].numpy()) for key in mean if is_counter(key)})
    return values


class ResumableRounds:
    """Mixin: shift every round number by `round_offset` and seed node sampling per round."""

    round_offset = 0
    sampling_seed = 0
    round_start_arrays = None  # set by configure_train: the global arrays the current round started from

    def configure_train(self, server_round, arrays, config, grid):
        actual = server_round + self.round_offset
        random.seed(f"{self.sampling_seed}:train:{actual}")
        self.round_start_arrays = arrays  # the global model this round started from (its counters are kept)
        return super().configure_train(actual, arrays, config, grid)

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        buffers = buffer_values(replies, self.round_start_arrays, self.weighted_by_key)
        aggregated, metrics = super().aggregate_train(server_round + self.round_offset, replies)
        if aggregated is not None:  # FedAvgM keeps `aggregated` as its current_arrays: edited in place, it agrees
            for key, value in buffers.items():
                aggregated[key] = value
        return aggregated, metrics

    def configure_evaluate(self, server_round, arrays, config, grid):
        actual = server_round + self.round_offset
        random.seed(f"{self.sampling_seed}:evaluate:{actual}")
        return super().configure_evaluate(actual, arrays, config, grid)

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
