"""model.norm applies to the resnet arch: GroupNorm ResNet without running stats, saved and loaded via Auto classes."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import AutoModelForImageClassification

from fedforge import config
from fedforge.models import FedForgeResNetConfig
from fedforge.models.factory import build_model, load_model
from fedforge.models.resnet import group_norm
from tests.conftest import tiny_params_dict

NAMES = ["alpha", "beta", "gamma"]


@pytest.fixture
def resnet_cfg() -> config.ModelConfig:
    return config.parse(tiny_params_dict()).model.model_copy(update={"arch": "resnet"})


def _norm_layers(model: nn.Module) -> dict[str, int]:
    kinds = [type(m).__name__ for m in model.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]
    return {kind: kinds.count(kind) for kind in sorted(set(kinds))}


def test_group_norm_resnet_has_no_batch_norm_and_no_buffers(resnet_cfg):
    group = build_model(resnet_cfg.model_copy(update={"norm": "group"}), 3, NAMES, 28, seed=1)
    batch = build_model(resnet_cfg.model_copy(update={"norm": "batch"}), 3, NAMES, 28, seed=1)
    assert type(group).__name__ == "FedForgeResNetForImageClassification"
    assert type(batch).__name__ == "ResNetForImageClassification"  # stock transformers, as before norm applied
    assert _norm_layers(group) == {"GroupNorm": _norm_layers(batch)["BatchNorm2d"]}
    assert dict(group.named_buffers()) == {}
    assert set(group.state_dict()) == {k for k in batch.state_dict()
                                       if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def test_group_norm_resnet_starts_like_torch_defaults(resnet_cfg):
    model = build_model(resnet_cfg.model_copy(update={"norm": "group"}), 3, NAMES, 28, seed=1)
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in norms)
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in norms)


def test_group_norm_resnet_round_trips_through_save_pretrained(resnet_cfg, tmp_path):
    model = build_model(resnet_cfg.model_copy(update={"norm": "group"}), 3, NAMES, 28, seed=1)
    with torch.no_grad():  # make the norm weights non-trivial, so loading them is actually checked
        for m in model.modules():
            if isinstance(m, nn.GroupNorm):
                m.weight.uniform_(0.5, 1.5)
    model.eval().save_pretrained(tmp_path / "m")
    x = torch.randn(2, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    for loaded in (load_model(tmp_path / "m"), AutoModelForImageClassification.from_pretrained(tmp_path / "m")):
        assert type(loaded).__name__ == "FedForgeResNetForImageClassification"
        assert loaded.config.norm == "group"
        assert torch.equal(loaded.eval()(pixel_values=x).logits, model(pixel_values=x).logits)


def test_group_norm_resnet_trains_a_step(resnet_cfg):
    model = build_model(resnet_cfg.model_copy(update={"norm": "group"}), 3, NAMES, 28, seed=1).train()
    x, y = torch.randn(4, 3, 28, 28), torch.tensor([0, 1, 2, 0])
    out = model(pixel_values=x, labels=y)
    out.loss.backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(("channels", "groups", "expected"), [(32, 8, 8), (12, 8, 6), (7, 8, 7), (3, 8, 3)])
def test_group_count_divides_the_width(channels, groups, expected):
    assert group_norm(channels, groups).num_groups == expected


def test_unknown_norm_is_rejected():
    with pytest.raises(ValueError, match="norm='layer'"):
        FedForgeResNetConfig(norm="layer")
