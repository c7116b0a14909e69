"""Losses for imbalanced labels: class weights from a label histogram, weighted CE, balanced softmax, focal, and the
Trainer hook."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from fedforge.models.factory import build_model
from fedforge.train.data import ArrayDataset
from fedforge.train.losses import class_weights, focal_loss, label_histogram, log_prior, make_loss
from fedforge.train.trainer import fit, training_arguments
from tests.train.conftest import learnable_arrays


def test_class_weights_are_inverse_frequency_with_mean_one_over_present_classes():
    # N = 100, K_present = 3: w = 100 / (3 * n)
    assert class_weights([50, 0, 25, 25]).tolist() == pytest.approx([2 / 3, 0.0, 4 / 3, 4 / 3])


def test_balanced_histogram_gives_unit_weights():
    assert class_weights([7, 7, 7]).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("bad", [[], [0, 0], [3, -1]])
def test_class_weights_reject_empty_or_negative_histograms(bad):
    with pytest.raises(ValueError, match="label histogram"):
        class_weights(bad)


def test_label_histogram_counts_every_class_including_absent_ones():
    assert label_histogram([0, 2, 2, 3], 5) == [1, 0, 2, 1, 0]


def test_focal_with_gamma_zero_is_cross_entropy():
    logits, labels = torch.randn(16, 4, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 4
    assert focal_loss(logits, labels, 0.0).item() == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)


def test_focal_down_weights_easy_examples():
    easy, hard = torch.tensor([[4.0, 0.0]]), torch.tensor([[0.5, 0.0]])
    label = torch.tensor([0])
    ratio_easy = focal_loss(easy, label, 2.0) / F.cross_entropy(easy, label)
    ratio_hard = focal_loss(hard, label, 2.0) / F.cross_entropy(hard, label)
    assert ratio_easy.item() < 0.001 and 0.1 < ratio_hard.item() < 0.2


def test_weighted_ce_matches_the_formula_on_a_batch():
    loss = make_loss("weighted_ce", label_histogram=[30, 10], focal_gamma=0.0)
    logits, labels = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 1])
    w = [40 / 60, 40 / 20]  # N / (K * n_k)
    per_image = F.cross_entropy(logits, labels, reduction="none")
    expected = (w[0] * per_image[0] + w[1] * per_image[1]) / (w[0] + w[1])
    assert loss({"logits": logits}, labels).item() == pytest.approx(expected.item(), rel=1e-6)


def test_balanced_softmax_is_ce_on_logits_plus_the_hospitals_log_prior():
    loss = make_loss("balanced_softmax", label_histogram=[30, 10, 0], focal_gamma=0.0)
    logits, labels = torch.tensor([[1.0, 0.0, 0.5], [0.0, 2.0, 0.5]]), torch.tensor([0, 1])
    prior = torch.tensor([31 / 43, 11 / 43, 1 / 43])  # (n_k + 1) / (N + K): the absent class keeps a small prior
    expected = F.cross_entropy(logits + prior.log(), labels)
    assert loss({"logits": logits}, labels).item() == pytest.approx(expected.item(), rel=1e-6)
    assert log_prior([30, 10, 0]).tolist() == pytest.approx(prior.log().tolist(), rel=1e-6)


def test_plain_ce_keeps_the_models_own_loss():
    assert make_loss("ce", label_histogram=[], focal_gamma=0.0) is None


def _train(tiny_cfg, tmp_path, **kwargs):
    x, y = learnable_arrays(96)
    y[y == 2] = 0  # imbalance: class 2 absent, class 0 ~2/3 of the images
    model = build_model(tiny_cfg.model, 3, ["a", "b", "c"], 28, seed=tiny_cfg.seed)
    args = training_arguments(tmp_path, epochs=1, batch_size=32, lr=3e-3, weight_decay=0.0, seed=tiny_cfg.seed,
                              device="cpu", disable_tqdm=True, logging_steps=1)
    return fit(model, ArrayDataset(x, y), args, **kwargs)


@pytest.mark.parametrize("loss", ["weighted_ce", "balanced_softmax", "focal"])
def test_fit_trains_with_the_chosen_loss_and_not_with_plain_ce(tiny_cfg, tmp_path, loss):
    plain = _train(tiny_cfg, tmp_path / "ce")
    chosen = _train(tiny_cfg, tmp_path / loss, loss=loss, focal_gamma=2.0)
    again = _train(tiny_cfg, tmp_path / f"{loss}-again", loss=loss, focal_gamma=2.0)
    assert chosen["train_loss"] == again["train_loss"]  # deterministic
    assert chosen["train_loss"] != plain["train_loss"]  # the hook is really in the training step
