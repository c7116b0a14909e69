"""transformers' ResNet with a choice of normalisation: BatchNorm (stock) or GroupNorm (for non-IID federations).

Why GroupNorm: BatchNorm keeps running statistics that are an average over the batches a model saw. In a
federation each hospital's statistics describe its own label mix, and the server's average of them fits no
one's data (nor the test set); GroupNorm normalises each image on its own, so the model has no buffers and
FedAvg averages every tensor as is. The GroupNorm model is transformers' ResNetForImageClassification with
each BatchNorm2d swapped for a GroupNorm under the same module name, so the state-dict keys stay the
stock ones minus the running statistics. It saves with save_pretrained and loads back through
AutoModelForImageClassification (model_type "fedforge-resnet", registered in fedforge/models/__init__.py).
"""
from __future__ import annotations

from torch import nn
from transformers import ResNetConfig, ResNetForImageClassification

NORMS = ("batch", "group")


class FedForgeResNetConfig(ResNetConfig):
    """ResNetConfig plus `norm` (batch | group) and `groups` (GroupNorm groups, reduced to divide the width)."""

    model_type = "fedforge-resnet"
    norm: str = "batch"
    groups: int = 8

    def __post_init__(self, **kwargs):
        if self.norm not in NORMS:
            raise ValueError(f"norm={self.norm!r}: expected one of {', '.join(NORMS)}")
        super().__post_init__(**kwargs)


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm over the largest group count <= `groups` that divides `channels` (same rule as FedForgeCNN)."""
    count = max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)
    return nn.GroupNorm(count, channels)


def swap_batch_norms(module: nn.Module, groups: int) -> int:
    """Replace every BatchNorm2d below `module` by a GroupNorm of the same width, in place; returns how many."""
    swapped = 0
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, group_norm(child.num_features, groups))
            swapped += 1
        else:
            swapped += swap_batch_norms(child, groups)
    return swapped


class FedForgeResNetForImageClassification(ResNetForImageClassification):
    """ResNetForImageClassification built with `config.norm` normalisation layers (weights initialised after)."""

    config_class = FedForgeResNetConfig

    def __init__(self, config: FedForgeResNetConfig):
        super().__init__(config)
        if config.norm == "group":
            swap_batch_norms(self, config.groups)
            self.post_init()  # initialise the new GroupNorm layers like the rest (weight 1, bias 0)
