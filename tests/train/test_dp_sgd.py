"""DP-SGD in the HF Trainer (Opacus): one outlier image cannot move the model more than the clipping norm."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fedforge.models.factory import build_model
from fedforge.train.data import ArrayDataset
from fedforge.train.dp_sgd import DpSgdTrainer, ledger_entry
from fedforge.train.trainer import fit, training_arguments
from tests.train.conftest import learnable_arrays

NAMES = ["a", "b", "c"]
CLIP = 0.05


def _one_sgd_step(cfg, tmp_path, outlier: bool = True, **dp) -> torch.Tensor:
    """The parameter change of one plain-SGD step (lr 1) on 4 images; image 0 is an outlier if asked."""
    x, y = learnable_arrays(4)
    if outlier:  # a huge, mislabelled image
        x[0] *= 1000.0
        y[0] = (y[0] + 1) % 3
    model = build_model(cfg.model.model_copy(update={"arch": "cnn", "norm": "group"}), 3, NAMES, 28, seed=0)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    args = training_arguments(tmp_path, epochs=1, batch_size=4, lr=1.0, weight_decay=0.0, seed=0, device="cpu",
                              optim="sgd", lr_scheduler_type="constant", disable_tqdm=True,
                              max_grad_norm=0.0)  # no whole-batch clipping either way
    fit(model, ArrayDataset(x, y), args, **({"trainer_cls": DpSgdTrainer, **dp} if dp else {}))
    return torch.cat([p.detach().flatten() for p in model.parameters()]) - before


def test_dp_sgd_bounds_one_outlier_sample(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("FEDFORGE_DP_NOISE_SEED", "1")
    dp = {"noise_multiplier": 0.0, "max_grad_norm": CLIP}
    private, private_without = (_one_sgd_step(tiny_cfg, tmp_path / f"dp{o}", outlier=o, **dp) for o in (True, False))
    plain, plain_without = (_one_sgd_step(tiny_cfg, tmp_path / f"plain{o}", outlier=o) for o in (True, False))
    # the step is the mean of 4 per-image gradients, each clipped to CLIP: at most CLIP long, and one image
    # moves it by at most 2 * CLIP / 4 (the sensitivity the accountant assumes)
    assert float(private.norm()) <= CLIP * (1 + 1e-5)
    assert float((private - private_without).norm()) <= 2 * CLIP / 4 * (1 + 1e-5)
    assert float((plain - plain_without).norm()) > 10 * 2 * CLIP / 4  # without DP-SGD the outlier moves it far more


def test_dp_sgd_adds_noise_from_its_own_generator(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("FEDFORGE_DP_NOISE_SEED", "1")
    dp = {"noise_multiplier": 1.0, "max_grad_norm": CLIP}
    quiet = _one_sgd_step(tiny_cfg, tmp_path / "q", noise_multiplier=0.0, max_grad_norm=CLIP)
    noisy = [_one_sgd_step(tiny_cfg, tmp_path / f"n{i}", **dp) for i in range(2)]
    assert torch.equal(noisy[0], noisy[1]) and not torch.equal(noisy[0], quiet)  # the test seed repeats the noise
    monkeypatch.delenv("FEDFORGE_DP_NOISE_SEED")
    unseeded = [_one_sgd_step(tiny_cfg, tmp_path / f"u{i}", **dp) for i in range(2)]
    assert not torch.equal(unseeded[0], unseeded[1])  # same training seed, new noise: not drawn from the seeded RNG


def test_ledger_entry_is_what_the_server_accountant_reads():
    assert ledger_entry(1.1, 64, 200, 8) == {"dp-noise-multiplier": 1.1, "dp-sample-rate": 0.32, "dp-steps": 8}
    assert ledger_entry(1.0, 64, 20, 1)["dp-sample-rate"] == 1.0


@pytest.mark.parametrize("norm", ["batch"])
def test_batchnorm_is_refused_by_opacus(tiny_cfg, tmp_path, norm):
    model = build_model(tiny_cfg.model.model_copy(update={"arch": "cnn", "norm": norm}), 3, NAMES, 28, seed=0)
    args = training_arguments(tmp_path, epochs=1, batch_size=4, lr=0.1, weight_decay=0.0, seed=0, device="cpu",
                              max_grad_norm=0.0)
    x, y = learnable_arrays(4)
    with pytest.raises(Exception, match="BatchNorm"):
        fit(model, ArrayDataset(x, np.asarray(y)), args, trainer_cls=DpSgdTrainer, noise_multiplier=1.0,
            max_grad_norm=CLIP)
