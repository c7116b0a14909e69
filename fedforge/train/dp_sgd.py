"""Patient-level DP-SGD inside the Hugging Face Trainer (Opacus): per-sample gradient clipping plus Gaussian noise.

`DpSgdTrainer` is transformers.Trainer with two changes: Opacus' per-sample gradient hooks on the model's own
layers (GradSampleModule attaches them in place, so the Trainer still holds the PreTrainedModel), and Opacus'
DPOptimizer around the Trainer's usual optimizer, which clips each image's gradient to `max_grad_norm` and adds
noise of std noise_multiplier * max_grad_norm before every step. The Trainer's own whole-batch clipping is off
(max_grad_norm=0 in its arguments): DPOptimizer replaces the gradient anyway.
Batches are the Trainer's shuffled fixed-size batches, not Poisson samples; the ledger counts each step as a
sampled Gaussian release with rate batch_size / N, as Opacus does with poisson_sampling=False (the usual
approximation). The noise comes from a torch.Generator seeded by the OS CSPRNG: the Trainer seeds torch's global
RNG from params.yaml, which would make noise drawn from it predictable. Env FEDFORGE_DP_NOISE_SEED (tests only)
fixes it.
"""
from __future__ import annotations

import os
import secrets

import torch
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer
from transformers import Trainer

from fedforge.fl.privacy import NOISE_SEED_ENV, SAMPLE_KEYS  # one test switch for the server's and hospitals' noise


def noise_generator(stream: int = 0) -> torch.Generator:
    """A generator for DP noise: OS entropy, or (env FEDFORGE_DP_NOISE_SEED, stream) in tests."""
    fixed = os.environ.get(NOISE_SEED_ENV)
    seed = (int(fixed) * 1_000_003 + int(stream)) % 2**63 if fixed else secrets.randbits(63)
    return torch.Generator().manual_seed(seed)


class _StepClearingDPOptimizer(DPOptimizer):
    """DPOptimizer that drops the per-sample gradients after each step: the Trainer only calls model.zero_grad(),
    which would leave them to accumulate into the next batch's."""

    def step(self, closure=None):
        result = super().step(closure)
        self.zero_grad(set_to_none=True)
        return result


class DpSgdTrainer(Trainer):
    """transformers.Trainer running DP-SGD: per-sample clipping to `max_grad_norm`, noise `noise_multiplier`."""

    def __init__(self, *args, noise_multiplier: float, max_grad_norm: float, noise_stream: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        if self.args.max_grad_norm:
            raise ValueError("DpSgdTrainer needs TrainingArguments(max_grad_norm=0): DPOptimizer clips per sample")
        self.noise_multiplier, self.dp_max_grad_norm = float(noise_multiplier), float(max_grad_norm)
        self.noise_stream = noise_stream
        for module in self.model.modules():  # Opacus' backward hooks forbid in-place activations (same numbers)
            if getattr(module, "inplace", False):
                module.inplace = False
        self.grad_sample_module = GradSampleModule(self.model, loss_reduction="mean")  # hooks on the model's layers

    def train(self, *args, **kwargs):
        """Trainer.train, then the per-sample hooks come off (FL clients reuse one model object across rounds)."""
        try:
            return super().train(*args, **kwargs)
        finally:
            self.grad_sample_module.remove_hooks()

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model) if model is not None else super().create_optimizer()
        if not isinstance(optimizer, DPOptimizer):
            self.optimizer = _StepClearingDPOptimizer(
                optimizer, noise_multiplier=self.noise_multiplier, max_grad_norm=self.dp_max_grad_norm,
                expected_batch_size=self.args.per_device_train_batch_size, loss_reduction="mean",
                generator=noise_generator(self.noise_stream))
        return self.optimizer


def ledger_entry(noise_multiplier: float, batch_size: int, num_examples: int, steps: int) -> dict:
    """What a hospital reports per round for the server's per-hospital accountant (fl/privacy.py SAMPLE_KEYS)."""
    return dict(zip(SAMPLE_KEYS, (float(noise_multiplier), min(1.0, batch_size / num_examples), int(steps)), strict=True))
