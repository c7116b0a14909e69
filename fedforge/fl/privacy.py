"""Differential privacy of a federated phase on the server: the DP strategy, the budget, its report and resume.

dp.mode client (hospital-level DP): each hospital clips its update to dp.clipping_norm (Flower's `fixedclipping_mod`,
client_app.py); the server checks every update it aggregates is clipped, averages them with equal weights and adds
Gaussian noise (Flower's `DifferentialPrivacyClientSideFixedClipping` over a plain FedAvg/FedProx, the noise drawn
from the OS CSPRNG by `gaussian_noise`, not Flower's np.random) while Flower's `RdpAccountant` composes one Gaussian
release per round. The round offset of a resumed phase lives on the wrapper (ResumableRounds), so the wrapped
strategy keeps FedAvg's own `aggregate_train`, as the accountant requires. bn: local BatchNorm never leaves a hospital.
dp.mode sample (patient-level DP-SGD, fedforge/train/dp_sgd.py): each hospital reports the (noise, sample rate,
steps) of its DP-SGD; the server keeps that ledger per hospital and reports the worst hospital's epsilon.
Either way the accountant state is part of the checkpoint, so a killed and resumed phase continues the same epsilon.
"""
from __future__ import annotations

import contextlib
import logging
import os

import numpy as np
import torch
from flwr.app import Array, ArrayRecord
from flwr.clientapp import mod as flower_mods
from flwr.serverapp import NeighboringRelation, PrivacyConfig, RdpAccountant, SamplingMethod
from flwr.serverapp.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg, FedProx

from fedforge.config import ConfigError, PhaseConfig
from fedforge.errors import UserError
from fedforge.fl import appconfig, batchnorm, strategies
from fedforge.fl.flower_compat import PrivacyBudgetExhausted, replace_dp_noise

log = logging.getLogger(__name__)
fixedclipping_mod = flower_mods.fixedclipping_mod
NOISE_SEED_ENV = "FEDFORGE_DP_NOISE_SEED"  # tests only: a fixed server noise seed (never a params.yaml key)
KEY_CLIPPING_NORM = "clipping_norm"  # the train-config key Flower's DP wrapper sends and fixedclipping_mod reads
WEIGHT_KEY = "dp-weight"  # every hospital sends weight 1: the accountant needs an unweighted average
SAMPLE_KEYS = ("dp-noise-multiplier", "dp-sample-rate", "dp-steps")  # what a DP-SGD hospital reports per round
CLIP_TOLERANCE = 1e-4  # relative slack for float32 rounding of (global + clipped update) - global


class UnclippedUpdate(UserError, RuntimeError):
    """A hospital's update is longer than dp.clipping_norm: aggregating it would void the privacy guarantee."""


def update_norm(reply_arrays, sent_arrays) -> float:
    """L2 norm (float64) of reply - sent over every array of the model."""
    sent = dict(zip(sent_arrays.keys(), sent_arrays.to_numpy_ndarrays(), strict=True))
    return float(np.sqrt(sum(float(((new.astype(np.float64) - sent[key]) ** 2).sum())
                             for key, new in zip(reply_arrays.keys(), reply_arrays.to_numpy_ndarrays(), strict=True))))


def gaussian_noise(size: int, std: float, server_round: int) -> np.ndarray:
    """`size` draws of N(0, std^2) (float64) from the OS CSPRNG: 2 x 64 bits of os.urandom -> 2 uniforms in (0, 1)
    -> Box-Muller. With env FEDFORGE_DP_NOISE_SEED (tests only) the bits come from a PCG64 seeded (seed, round).
    Known caveat, left as is (as in Flower and Opacus): floating-point samples are not exactly Gaussian and their
    low-order bits can leak the noised value (Mironov 2012, "On significance of the least significant bits for DP")."""
    pairs = -(-size // 2)
    fixed = os.environ.get(NOISE_SEED_ENV)
    bits = np.random.default_rng([int(fixed), int(server_round)]).bytes(16 * pairs) if fixed else os.urandom(16 * pairs)
    u1, u2 = ((np.frombuffer(bits, dtype=np.uint64).reshape(2, pairs) >> np.uint64(11)) + 0.5) * 2.0**-53
    radius = std * np.sqrt(-2.0 * np.log(u1))
    return np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)])[:size]


class ResumableClientSideDp(strategies.ResumableRounds, DifferentialPrivacyClientSideFixedClipping):
    """Flower's client-side fixed-clipping DP wrapper, resumable, that refuses unclipped updates."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.update_norms: dict[int, list[float]] = {}  # round -> norm of each aggregated update (tests, logs)
        self.noise_round = 0  # the true round being aggregated (the fixed test noise is seeded with it)

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        norms = [update_norm(next(iter(r.content.array_records.values())), self.round_start_arrays)
                 for r in replies if not r.has_error()]
        actual = server_round + self.round_offset
        self.update_norms[actual] = norms
        if any(norm > self.clipping_norm * (1 + CLIP_TOLERANCE) for norm in norms):
            raise UnclippedUpdate(f"round {actual}: a hospital sent an update of L2 norm {max(norms):.6g} > "
                                  f"dp.clipping_norm {self.clipping_norm}; is its ClientApp FedForge's?")
        self.noise_round = actual  # (ResumableRounds' BatchNorm-buffer step is skipped: no BatchNorm is sent)
        aggregated, metrics = DifferentialPrivacyClientSideFixedClipping.aggregate_train(self, actual, replies)
        if self.bn == "local":  # FedBN: after the noise, the aggregate gets the server's (unused) BatchNorm back
            self._fill_local_batchnorm(replies, actual)
            aggregated = aggregated and batchnorm.completed(aggregated, self.round_start_arrays)
        return aggregated, metrics

    def add_noise(self, arrays: ArrayRecord) -> ArrayRecord:
        """Flower's noise step (std sigma * C / hospitals on each coordinate of the mean), drawn by gaussian_noise."""
        std, values = self.noise_multiplier * self.clipping_norm / self.num_sampled_clients, arrays.to_numpy_ndarrays()
        noise = gaussian_noise(sum(v.size for v in values), std, self.noise_round)
        log.info("round %d: central DP noise of std %.4g added (OS CSPRNG)", self.noise_round, std)
        parts = np.split(noise, np.cumsum([v.size for v in values])[:-1])
        return ArrayRecord({key: Array(value + part.reshape(value.shape).astype(value.dtype))
                            for key, value, part in zip(arrays.keys(), values, parts, strict=True)})


replace_dp_noise(ResumableClientSideDp, ResumableClientSideDp.add_noise)


def check_model(model, phase: PhaseConfig, phase_name: str) -> None:
    """A DP phase's model must have no BatchNorm (its statistics would leave the hospital without noise) unless
    bn: local keeps it at the hospital: config.py checks the norm, but an architecture may ignore model.norm."""
    kinds = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d, torch.nn.SyncBatchNorm)
    batchnorm = [name for name, module in model.named_modules() if isinstance(module, kinds)]
    if phase.dp.mode != "none" and batchnorm and phase.bn != "local":
        raise ConfigError(f"phases.{phase_name}.dp.mode: got {phase.dp.mode!r}; the {type(model).__name__} built for "
                          f"it still has BatchNorm ({batchnorm[0]}, ...), whose statistics would be shared without "
                          "noise; use model.arch cnn (or an arch that honours norm: group), or bn: local")


def sample_epsilon(ledger: list, delta: float) -> float:
    """Epsilon of one hospital's DP-SGD ledger [(noise_multiplier, sample_rate, steps), ...] (Opacus RDP)."""
    from opacus.accountants import RDPAccountant  # only DP-SGD phases need opacus

    accountant = RDPAccountant()
    accountant.history = [tuple(entry) for entry in ledger]
    return float(accountant.get_epsilon(delta)) if ledger else 0.0


class PhasePrivacy:
    """Everything a phase's server does for DP: the strategy, epsilon per round, the checkpoint state, the report."""

    def __init__(self, phase: PhaseConfig, num_clients: int, saved: dict | None = None):
        self.phase, self.dp, self.num_clients = phase, phase.dp, num_clients
        self.saved = saved or {}
        self.ledgers: dict[str, list] = {k: list(v) for k, v in self.saved.get("ledgers", {}).items()}
        self.budget_stopped = False
        self.strategy = None

    def build_strategy(self, seed: int, round_offset: int):
        """The phase's strategy: in dp.mode client, the DP wrapper (with its restored accountant) over FedAvg/FedProx."""
        if self.dp.mode != "client":
            self.strategy = strategies.build_strategy(self.phase, seed, round_offset=round_offset)
            return self.strategy
        every = {"fraction_train": 1.0, "min_train_nodes": self.num_clients, "min_available_nodes": self.num_clients,
                 "fraction_evaluate": 1.0, "min_evaluate_nodes": self.phase.min_clients, "weighted_by_key": WEIGHT_KEY}
        inner = FedProx(proximal_mu=self.phase.proximal_mu, **every) if self.phase.strategy == "fedprox" \
            else FedAvg(**every)
        accountant = RdpAccountant(PrivacyConfig(  # one Gaussian release per round over all hospitals
            target_delta=self.dp.delta, population_size=self.num_clients, max_epsilon=self.dp.max_epsilon,
            neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE, sampling_method=SamplingMethod.NO_AMPLIFICATION))
        if "accountant" in self.saved:
            accountant.load_state_dict(self.saved["accountant"])
        self.strategy = ResumableClientSideDp(inner, self.dp.noise_multiplier, self.dp.clipping_norm,
                                              self.num_clients, accountant=accountant)
        self.strategy.round_offset, self.strategy.sampling_seed = round_offset, seed
        return self.strategy

    @contextlib.contextmanager
    def budget_guard(self):
        """Around strategy.start: the budget ending the phase early is a clean end, not a failure."""
        try:
            yield
        except PrivacyBudgetExhausted as exc:
            self.budget_stopped = True
            log.info("privacy budget: %s; the phase ends after the last round within dp.max_epsilon", exc)

    def check_budget(self, sizes: dict[str, int]) -> None:
        """dp.mode sample: raise PrivacyBudgetExhausted if one more round would take a hospital past dp.max_epsilon:
        its Trainer next does local_steps (or local_epochs * ceil(size / batch)) steps at rate batch / size."""
        if self.dp.mode != "sample" or self.dp.max_epsilon is None:
            return
        batch, phase = self.phase.batch_size, self.phase
        for client, size in sorted(sizes.items()):
            steps = phase.local_steps or phase.local_epochs * -(-size // batch)
            entry = [self.dp.noise_multiplier, min(1.0, batch / size), steps]
            projected = sample_epsilon(self.ledgers.get(client, []) + [entry], self.dp.delta)
            if projected > self.dp.max_epsilon:
                raise PrivacyBudgetExhausted(f"the next round would take {client} to epsilon {projected:.4g} > "
                                             f"dp.max_epsilon {self.dp.max_epsilon}")

    def end_round(self, train_metrics: dict[str, dict]) -> dict[str, float]:
        """Record a round's DP-SGD ledger entries (dp.mode sample); -> each hospital's epsilon so far."""
        if self.dp.mode != "sample":
            return {}
        for client, metrics in train_metrics.items():
            if all(key in metrics for key in SAMPLE_KEYS):
                self.ledgers.setdefault(client, []).append([float(metrics[SAMPLE_KEYS[0]]),
                                                            float(metrics[SAMPLE_KEYS[1]]), int(metrics[SAMPLE_KEYS[2]])])
        return {client: sample_epsilon(ledger, self.dp.delta) for client, ledger in sorted(self.ledgers.items())}

    def epsilon(self) -> float | None:
        """Epsilon spent so far at dp.delta (the worst hospital's in dp.mode sample); None without DP."""
        if self.dp.mode == "client":
            accountant = self.strategy.accountant
            return float(accountant.get_privacy_spent().epsilon) if accountant.num_releases else 0.0
        if self.dp.mode == "sample":
            return max((sample_epsilon(ledger, self.dp.delta) for ledger in self.ledgers.values()), default=0.0)
        return None

    def state(self) -> dict:
        """JSON state for the checkpoint: the accountant's event ledger (client) or each hospital's (sample)."""
        if self.dp.mode == "client":
            return {"accountant": self.strategy.accountant.state_dict()}
        return {"ledgers": self.ledgers} if self.dp.mode == "sample" else {}

    def report(self) -> dict:
        """metrics.json `privacy` block ({} without DP, so a dp.mode none phase writes exactly what it did before)."""
        if self.dp.mode == "none":
            return {}
        return {"privacy": {"mode": self.dp.mode, "epsilon": self.epsilon(), "delta": self.dp.delta,
                            "noise_multiplier": self.dp.noise_multiplier, "clipping_norm": self.dp.clipping_norm,
                            "max_epsilon": self.dp.max_epsilon, "budget_stopped": self.budget_stopped}}


def flat_params(params: dict, prefix: str = "") -> dict:
    """{"dp": {"mode": "client"}} -> {"dp.mode": "client"}: run_started params are flat scalars."""
    flat = {}
    for key, value in params.items():
        flat.update(flat_params(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return flat


def clipping_mod(msg, context, call_next):
    """Flower's fixedclipping_mod, in dp.mode client phases only (elsewhere it fails: no clipping norm is sent).
    The hospital clips to its own dp.clipping_norm: a server asking for a looser bound is refused. With bn: local
    the reply leaves BatchNorm out: the mod compares it with those keys of the global model the handler trained."""
    cfg, phase_name, _, _ = appconfig.from_run_config(context.run_config)
    dp = cfg.phase(phase_name).dp
    if dp.mode != "client":
        return call_next(msg, context)
    asked = float(msg.content["config"].get(KEY_CLIPPING_NORM, dp.clipping_norm))
    if asked != dp.clipping_norm:
        raise UnclippedUpdate(f"the server asked for clipping norm {asked}, this hospital's dp.clipping_norm is "
                              f"{dp.clipping_norm}; refusing to send a less private update")
    if cfg.phase(phase_name).bn != "local":
        return fixedclipping_mod(msg, context, call_next)
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    received = msg.content["arrays"]
    msg.content["arrays"] = ArrayRecord({key: received[key] for key in reply.content["arrays"]})
    return fixedclipping_mod(msg, context, lambda *_: reply)


def client_metrics(phase: PhaseConfig, result: dict | None = None) -> dict:
    """A hospital's extra reply metrics: weight 1 for the accountant (client) or its DP-SGD ledger entry (sample)."""
    if phase.dp.mode == "client":
        return {WEIGHT_KEY: 1}
    return dict((result or {}).get("dp", {}))


def dp_sgd_options(phase: PhaseConfig, server_round: int, partition_id: int) -> dict | None:
    """task.train_local's dp_sgd argument in dp.mode sample (a noise stream per round and hospital), else None."""
    if phase.dp.mode != "sample":
        return None
    return {"noise_multiplier": phase.dp.noise_multiplier, "max_grad_norm": phase.dp.clipping_norm,
            "noise_stream": server_round * 100_003 + partition_id}
