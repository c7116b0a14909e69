"""Differential privacy (issue 11): params, the reported epsilon, clipping, the budget stop and resume."""
from __future__ import annotations

import csv
import json
import math
import os

import numpy as np
import pytest
import torch
from flwr.serverapp import GaussianPrivacyEvent, NeighboringRelation, PrivacyConfig, RdpAccountant, SamplingMethod

from fedforge import config
from fedforge.fl import appconfig, engine, privacy
from fedforge.fl.observe import PhaseFailed
from fedforge.monitor.client.events import parse_event
from tests.fl.conftest import tiny_raw

OUT = "artifacts/federated/T"
ORDERS = RdpAccountant(PrivacyConfig(1e-3, 2, NeighboringRelation.ADD_OR_REMOVE_ONE,
                                     SamplingMethod.NO_AMPLIFICATION)).state_dict()["orders"]  # Flower's default orders
DP = {"mode": "client", "noise_multiplier": 0.8, "clipping_norm": 0.05, "delta": 1e-3, "max_epsilon": None}


def dp_config(dp: dict | None = None, **phase) -> config.Config:
    """tiny_raw with the GroupNorm CNN and a dp.mode client phase T (min_clients 2: a failed hospital ends it)."""
    raw = tiny_raw(min_clients=2, **phase)
    raw["model"].update(arch="cnn", norm="group")
    raw["phases"]["T"]["dp"] = {**DP, **(dp or {})}
    return config.parse(raw)


def run(root, cfg) -> dict:
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=root))
    return json.loads((root / OUT / "metrics.json").read_text())


def rounds(root) -> list[dict]:
    with open(root / OUT / "rounds.tsv") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh, delimiter="\t")]


def closed_form_epsilon(noise_multiplier: float, releases: int, delta: float, orders) -> float:
    """Gaussian mechanism, sensitivity 1: RDP(a) = releases * a / (2 sigma^2), converted to (eps, delta) with
    the bound of Canonne, Kamath & Steinke 2020 (the conversion dp-accounting and Opacus use)."""
    a = np.asarray(orders, dtype=np.float64)
    rdp = releases * a / (2 * noise_multiplier**2)
    eps = rdp + np.log1p(-1 / a) - (np.log(delta) + np.log(a)) / (a - 1)
    return float(max(eps.min(), 0.0))


# -- params ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change,key", [
    ({"model_norm": "batch"}, "phases.T.norm"),
    ({"strategy": "fedadam"}, "phases.T.strategy"),
    ({"fraction_train": 0.5}, "phases.T.fraction_train"),
    ({"noise_multiplier": 0.0}, "phases.T.dp.noise_multiplier"),
])
def test_dp_refuses_what_it_cannot_protect_or_account(change, key):
    raw = tiny_raw()
    raw["model"].update(arch="cnn", norm=change.pop("model_norm", "group"))
    raw["phases"]["T"]["dp"] = {**DP, **{k: v for k, v in change.items() if k == "noise_multiplier"}}
    raw["phases"]["T"].update({k: v for k, v in change.items() if k != "noise_multiplier"})
    with pytest.raises(config.ConfigError) as err:
        config.parse(raw)
    assert str(err.value).startswith(f"{key}: got ") and len(str(err.value).splitlines()) == 1


def test_phase_norm_override_lets_a_dp_phase_use_groupnorm_over_a_batchnorm_model():
    raw = tiny_raw(norm="group")
    raw["model"].update(arch="cnn", norm="batch")
    raw["phases"]["T"]["dp"] = DP
    cfg = config.parse(raw)
    assert config.phase_model(cfg.model, cfg.phase("T")).norm == "group" and cfg.model.norm == "batch"


def test_a_dp_phase_whose_built_model_still_has_batchnorm_is_refused(tiny_repo):
    """The built model decides: the GroupNorm ResNet passes, the same model with a BatchNorm layer is refused."""
    raw = tiny_raw(min_clients=2)
    raw["model"].update(arch="resnet", norm="group")
    raw["phases"]["T"]["dp"] = DP
    cfg = config.parse(raw)
    from fedforge.fl import task

    model = task.new_model(cfg, tiny_repo, "bloodmnist", cfg.phase("T"))
    privacy.check_model(model, cfg.phase("T"), "T")  # GroupNorm only: accepted
    model.extra = torch.nn.BatchNorm2d(4)  # an architecture that ignores model.norm
    with pytest.raises(config.ConfigError, match=r"^phases.T.dp.mode: got 'client'; the "
                                                  r"FedForgeResNetForImageClassification built for it still has "
                                                  r"BatchNorm \(extra, ...\)"):
        privacy.check_model(model, cfg.phase("T"), "T")


def test_client_dp_with_local_batchnorm_never_sends_batchnorm(tiny_repo, seeded_noise, monkeypatch):
    """DP needs GroupNorm or bn: local. A BatchNorm CNN with bn: local runs hospital-level DP: every train reply
    that reaches the server is the model minus its BatchNorm keys (and clipped), each aggregate is the full model."""
    from fedforge.fl import batchnorm, task

    replies, aggregates = [], []
    norm, aggregate = privacy.update_norm, privacy.ResumableClientSideDp.aggregate_train
    monkeypatch.setattr(privacy, "update_norm", lambda reply, sent: replies.append(list(reply.keys())) or norm(reply, sent))
    monkeypatch.setattr(privacy.ResumableClientSideDp, "aggregate_train",
                        lambda self, *a: aggregates.append(aggregate(self, *a)) or aggregates[-1])
    raw = tiny_raw(min_clients=2, rounds=2, bn="local")
    raw["model"].update(arch="cnn", norm="batch")
    raw["phases"]["T"]["dp"] = DP
    cfg = config.parse(raw)
    model = task.new_model(cfg, tiny_repo, "bloodmnist", cfg.phase("T"))
    privacy.check_model(model, cfg.phase("T"), "T")  # accepted: its BatchNorm stays at the hospitals
    metrics = run(tiny_repo, cfg)
    bn = set(batchnorm.batchnorm_keys(model))
    assert len(bn) == 7 * 5 and replies == [[k for k in model.state_dict() if k not in bn]] * 4  # 2 hospitals x 2 rounds
    assert [list(arrays.keys()) for arrays, _ in aggregates] == [list(model.state_dict())] * 2
    assert metrics["privacy"]["epsilon"] == pytest.approx(closed_form_epsilon(0.8, 2, 1e-3, ORDERS), rel=0.01)


def test_run_started_params_are_flat_scalars():
    flat = privacy.flat_params(dp_config().phase("T").model_dump())
    assert {k: v for k, v in flat.items() if k.startswith("dp.")} == {f"dp.{k}": v for k, v in DP.items()}


# -- the accountant ------------------------------------------------------------------------------------------------
def test_epsilon_equals_opacus_and_closed_form_within_one_percent():
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    cfg = dp_config({"noise_multiplier": 1.1, "delta": 1e-5}, rounds=30)
    phase = privacy.PhasePrivacy(cfg.phase("T"), num_clients=2)
    strategy = phase.build_strategy(seed=0, round_offset=0)
    orders = strategy.accountant.state_dict()["orders"]
    for _ in range(30):
        strategy.accountant.compose(GaussianPrivacyEvent(1.1, 2, 2))
    ours = phase.epsilon()
    opacus_eps, _ = get_privacy_spent(orders=orders, rdp=compute_rdp(q=1.0, noise_multiplier=1.1, steps=30,
                                                                      orders=orders), delta=1e-5)
    assert ours == pytest.approx(opacus_eps, rel=0.01)
    assert ours == pytest.approx(closed_form_epsilon(1.1, 30, 1e-5, orders), rel=0.01)
    assert ours == pytest.approx(34.885, abs=1e-3)  # 30 unsampled releases at sigma 1.1: far from private


def test_dp_sgd_ledger_epsilon_is_opacus():
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    for _ in range(3):
        accountant.step(noise_multiplier=1.0, sample_rate=0.05)
    assert privacy.sample_epsilon([[1.0, 0.05, 3]], 1e-5) == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-9)


# -- end to end on the local engine -----------------------------------------------------------------------------
@pytest.fixture
def seeded_noise(monkeypatch):
    monkeypatch.setenv(privacy.NOISE_SEED_ENV, "7")


def test_dp_phase_reports_epsilon_everywhere_and_clips_every_update(tiny_repo, seeded_noise, monkeypatch):
    norms = []
    real = privacy.update_norm
    monkeypatch.setattr(privacy, "update_norm", lambda *a: norms.append(real(*a)) or norms[-1])
    cfg = dp_config(rounds=3)
    metrics = run(tiny_repo, cfg)
    table = rounds(tiny_repo)
    eps = [float(r["epsilon"]) for r in table]
    assert eps == pytest.approx([closed_form_epsilon(0.8, k, 1e-3, ORDERS) for k in (1, 2, 3)], rel=0.01)
    assert metrics["privacy"] == {"mode": "client", "epsilon": pytest.approx(eps[-1], abs=1e-6), "delta": 1e-3,
                                  "noise_multiplier": 0.8, "clipping_norm": 0.05, "max_epsilon": None,
                                  "budget_stopped": False}
    assert len(norms) == 6 and max(norms) <= 0.05 * (1 + privacy.CLIP_TOLERANCE) and min(norms) > 0.04  # clipped
    events = [parse_event(line) for line in (tiny_repo / OUT / "events.jsonl").read_text().splitlines()]
    assert [e.epsilon for e in events if e.type == "round_completed"] == pytest.approx(eps, abs=1e-6)
    assert next(e for e in events if e.type == "run_started").params["dp.mode"] == "client"


def test_server_refuses_an_unclipped_update(tiny_repo, seeded_noise, monkeypatch):
    monkeypatch.setattr(privacy, "fixedclipping_mod", lambda msg, ctx, call_next: call_next(msg, ctx))
    with pytest.raises(privacy.UnclippedUpdate, match="round 1: a hospital sent an update of L2 norm"):
        run(tiny_repo, dp_config(rounds=1))


def test_max_epsilon_ends_the_phase_after_the_last_round_within_budget(tiny_repo, seeded_noise):
    two, three = (closed_form_epsilon(0.8, k, 1e-3, ORDERS) for k in (2, 3))
    metrics = run(tiny_repo, dp_config({"max_epsilon": (two + three) / 2}, rounds=5))
    assert metrics["rounds"] == 2 and metrics["privacy"]["budget_stopped"] is True
    assert metrics["privacy"]["epsilon"] == pytest.approx(two, rel=0.01) and metrics["privacy"]["epsilon"] <= (two + three) / 2
    assert [r["round"] for r in rounds(tiny_repo)] == ["1", "2"] and (tiny_repo / OUT / "model").is_dir()


@pytest.mark.parametrize("mode", ["client", "sample"])
def test_failed_then_resumed_phase_continues_the_same_epsilon(tmp_path, seeded_noise, monkeypatch, mode):
    from tests.fl.conftest import write_tiny_data

    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    for root in (reference, resumed):
        write_tiny_data(root)
    cfg = dp_config({"mode": mode}, rounds=3)
    run(reference, cfg)
    monkeypatch.setenv("FEDFORGE_FAULTS", "client_1:train:3")
    with pytest.raises(PhaseFailed):
        run(resumed, cfg)
    assert [r["round"] for r in rounds(resumed)] == ["1", "2"]
    monkeypatch.delenv("FEDFORGE_FAULTS")
    run(resumed, cfg)
    assert rounds(resumed) == rounds(reference)  # epsilon column included; seeded noise -> same arrays too
    assert math.isclose(json.loads((resumed / OUT / "metrics.json").read_text())["privacy"]["epsilon"],
                        json.loads((reference / OUT / "metrics.json").read_text())["privacy"]["epsilon"])


def test_fixed_seed_noise_has_the_asked_std_and_is_gaussian(seeded_noise):
    """The test switch's path through the same transform: deterministic, so these tolerances cannot flake."""
    from scipy import stats

    noise = privacy.gaussian_noise(200_001, 0.3, 1)
    assert noise.shape == (200_001,) and noise.dtype == np.float64
    assert noise.std() == pytest.approx(0.3, rel=0.01) and abs(noise.mean()) < 0.003  # 3 standard errors: 0.002
    assert stats.kstest(noise / 0.3, "norm").statistic < 0.005  # KS distance to N(0, 1): ~0.002 for 200k true draws
    assert np.array_equal(privacy.gaussian_noise(200_001, 0.3, 1), noise)
    assert not np.array_equal(privacy.gaussian_noise(200_001, 0.3, 2)[:8], noise[:8])  # another round, other noise


def test_production_noise_is_drawn_from_the_os_csprng(monkeypatch):
    monkeypatch.delenv(privacy.NOISE_SEED_ENV, raising=False)
    asked = []
    def urandom(n):  # what os.urandom returns in this test: the bits the test switch draws for (seed 5, round 1)
        asked.append(n)
        return np.random.default_rng([5, 1]).bytes(n)
    monkeypatch.setattr(os, "urandom", urandom)
    drawn = privacy.gaussian_noise(7, 0.5, 1)
    assert asked == [64]  # 4 pairs of 64-bit words for 7 draws
    monkeypatch.setenv(privacy.NOISE_SEED_ENV, "5")
    assert np.array_equal(drawn, privacy.gaussian_noise(7, 0.5, 1))  # the OS bits, through the same transform
    monkeypatch.undo()
    assert not np.array_equal(privacy.gaussian_noise(7, 0.5, 1), privacy.gaussian_noise(7, 0.5, 1))


def test_the_server_noise_bypasses_the_global_numpy_generator(tiny_repo, seeded_noise, monkeypatch):
    """Flower's wrapper would draw from np.random; ours adds gaussian_noise of std sigma * C / hospitals instead."""
    calls = []
    real = privacy.gaussian_noise
    monkeypatch.setattr(privacy, "gaussian_noise", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setattr(np.random, "normal", lambda *a, **k: pytest.fail("noise drawn from the global np.random"))
    cfg = dp_config(rounds=2)
    run(tiny_repo, cfg)
    from fedforge.fl import task

    size = sum(v.numel() for v in task.new_model(cfg, tiny_repo, "bloodmnist", cfg.phase("T")).state_dict().values())
    assert calls == [(size, pytest.approx(0.8 * 0.05 / 2), 1), (size, pytest.approx(0.8 * 0.05 / 2), 2)]


def test_dp_sgd_phase_reports_the_worst_hospitals_epsilon(tiny_repo, seeded_noise):
    from opacus.accountants import RDPAccountant

    metrics = run(tiny_repo, dp_config({"mode": "sample", "clipping_norm": 1.0}, rounds=2, batch_size=16))
    expected = {}
    for client, size in (("client_0", 40), ("client_1", 48)):  # tiny data: 40 and 48 training images
        accountant = RDPAccountant()
        accountant.history = [(0.8, 16 / size, -(-size // 16))] * 2  # 2 rounds of one epoch each
        expected[client] = accountant.get_epsilon(1e-3)
    events = [parse_event(line) for line in (tiny_repo / OUT / "events.jsonl").read_text().splitlines()]
    last = [e for e in events if e.type == "round_completed"][-1]
    assert last.client_epsilons == pytest.approx(expected, rel=1e-9)
    assert last.epsilon == pytest.approx(max(expected.values()), rel=1e-9)
    assert float(rounds(tiny_repo)[-1]["epsilon"]) == pytest.approx(max(expected.values()), abs=1e-6)
    assert metrics["privacy"]["mode"] == "sample" and metrics["privacy"]["epsilon"] == pytest.approx(last.epsilon)


def test_dp_sgd_budget_ends_the_phase_before_a_hospital_would_exceed_it(tiny_repo, seeded_noise):
    metrics = run(tiny_repo, dp_config({"mode": "sample", "max_epsilon": 1e-3}, rounds=3))
    assert metrics["rounds"] == 0 and metrics["privacy"]["budget_stopped"] is True
    assert metrics["privacy"]["epsilon"] == 0.0 and (tiny_repo / OUT / "model").is_dir()
