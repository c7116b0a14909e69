"""Training losses for imbalanced labels: plain, class-weighted, balanced-softmax and focal cross-entropy.

`loss: ce | weighted_ce | balanced_softmax | focal` (centralized.loss, phases.<X>.loss). Weights and priors
come from the label histogram of the data being trained on, which for a federated client is its OWN training
split only (no hospital sees another's counts):

    w_k = N / (K_present * n_k)   for every class k with n_k > 0, N = sum of n_k, K_present = #classes with n_k > 0

so the weights average exactly 1 over the classes present and a class with half the images weighs twice as much.
A class absent at the hospital gets w_k = 0: no training image carries that label there, so the weight never
multiplies a term of that client's loss; 0 (rather than, say, the largest weight) keeps that visible in logs.
Balanced softmax (Ren et al. 2020; logit adjustment with tau 1, Menon et al. 2021) trains on
logits + log p_k with the hospital's label prior

    p_k = (n_k + 1) / (N + K)     (Laplace-smoothed, so a class absent at the hospital gets log(1 / (N + K)))

so the model learns class scores free of that prior: every hospital's scores then describe the same thing
whatever its label mix, and predicting with the raw logits targets balanced accuracy. An absent class's
large negative offset keeps the hospital from pushing that class's score down.
Focal loss (Lin et al. 2017): -(1 - p_t)^gamma * log p_t (unweighted; gamma = focal_gamma, 0 gives plain CE).

Each loss is a Trainer `compute_loss_func(outputs, labels, num_items_in_batch)`: a per-batch mean, weighted
as torch's `cross_entropy(weight=...)` does (sum of w_y * loss over sum of w_y). `ce` returns None: the
model's own cross-entropy then runs unchanged, bit for bit what the pipeline computed before losses existed.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F


def class_weights(label_histogram: Sequence[int]) -> torch.Tensor:
    """w_k = N / (K_present * n_k) for present classes (mean 1 over them), 0 for absent ones; float32 (K,)."""
    counts = torch.as_tensor(list(label_histogram), dtype=torch.float64)
    if counts.ndim != 1 or len(counts) == 0 or bool((counts < 0).any()) or float(counts.sum()) <= 0:
        raise ValueError(f"label histogram {list(label_histogram)}: expected non-negative counts, not all zero")
    present = counts > 0
    weights = torch.zeros_like(counts)
    weights[present] = counts.sum() / (int(present.sum()) * counts[present])
    return weights.float()


def log_prior(label_histogram: Sequence[int]) -> torch.Tensor:
    """log p_k, p_k = (n_k + 1) / (N + K): the Laplace-smoothed label prior of a histogram; float32 (K,)."""
    counts = torch.as_tensor(list(label_histogram), dtype=torch.float64)
    return torch.log((counts + 1.0) / (float(counts.sum()) + len(counts))).float()


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of -(1 - p_t)^gamma * log p_t over the batch (weighted mean by w_y when `weight` is given)."""
    log_p = F.log_softmax(logits.float(), dim=-1).gather(1, labels.view(-1, 1)).squeeze(1)
    per_image = -((1.0 - log_p.exp()) ** gamma) * log_p
    if weight is None:
        return per_image.mean()
    w = weight.to(per_image.device)[labels]
    return (w * per_image).sum() / w.sum()


def label_histogram(labels, num_classes: int) -> list[int]:
    """Images per class 0..num_classes-1 (the input of class_weights)."""
    return [int(v) for v in torch.bincount(torch.as_tensor(labels, dtype=torch.long).reshape(-1),
                                           minlength=num_classes)]


def make_loss(name: str, *, label_histogram: Sequence[int], focal_gamma: float) -> Callable | None:
    """The Trainer compute_loss_func for `name` (validated by config.Loss); None for ce: the model's own loss."""
    if name == "ce":
        return None
    if name == "focal":
        return lambda outputs, labels, num_items_in_batch=None: focal_loss(outputs["logits"], labels, focal_gamma)
    if name == "balanced_softmax":
        shift = log_prior(label_histogram)

        def balanced_softmax(outputs, labels, num_items_in_batch=None):
            logits = outputs["logits"]
            return F.cross_entropy(logits.float() + shift.to(logits.device), labels)
        return balanced_softmax
    weights = class_weights(label_histogram)

    def weighted_ce(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"]
        return F.cross_entropy(logits.float(), labels, weight=weights.to(logits.device))
    return weighted_ce
