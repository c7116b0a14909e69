"""Model factory: built offline from params, seeded, saved and reloaded through the Auto classes."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForImageClassification

from fedforge import config
from fedforge.config import ConfigError
from fedforge.models.factory import build_model, load_model
from tests.conftest import tiny_params_dict

NAMES = ["alpha", "beta", "gamma"]


@pytest.fixture
def model_cfg() -> config.ModelConfig:
    return config.parse(tiny_params_dict()).model


def _batch(n: int = 4, size: int = 28):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, size, size, generator=gen), torch.tensor([0, 1, 2, 0][:n])


def test_build_from_params_gives_loss_and_logits(model_cfg):
    model = build_model(model_cfg, 3, NAMES, 28, seed=1)
    x, y = _batch()
    out = model(pixel_values=x, labels=y)
    assert out.logits.shape == (4, 3)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert model.config.id2label == {0: "alpha", 1: "beta", 2: "gamma"}
    assert model.config.label2id["gamma"] == 2


def test_seed_fixes_weights_and_leaves_global_rng_alone(model_cfg):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = build_model(model_cfg, 3, NAMES, 28, seed=7)
    assert torch.equal(torch.rand(1), expected_next)
    b = build_model(model_cfg, 3, NAMES, 28, seed=7)
    c = build_model(model_cfg, 3, NAMES, 28, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_group_norm_has_no_running_stats_batch_norm_has(model_cfg):
    group = build_model(model_cfg.model_copy(update={"arch": "cnn", "norm": "group"}), 3, NAMES, 28, seed=1)
    batch = build_model(model_cfg.model_copy(update={"arch": "cnn", "norm": "batch"}), 3, NAMES, 28, seed=1)
    assert not any("running_mean" in k for k in group.state_dict())
    assert any("running_mean" in k for k in batch.state_dict())


@pytest.mark.parametrize(("arch", "norm", "cls"), [("resnet", "batch", "ResNetForImageClassification"),
                                                   ("resnet", "group", "FedForgeResNetForImageClassification"),
                                                   ("cnn", "group", "FedForgeCNNForImageClassification")])
@pytest.mark.parametrize("size", [28, 64])
def test_every_arch_builds_at_every_size(model_cfg, arch, norm, cls, size):
    model = build_model(model_cfg.model_copy(update={"arch": arch, "norm": norm}), 3, NAMES, size, seed=1)
    assert type(model).__name__ == cls
    assert model(pixel_values=_batch(size=size)[0]).logits.shape == (4, 3)


@pytest.mark.parametrize("arch", ["resnet", "cnn"])
def test_save_and_load_through_auto_classes(model_cfg, tmp_path, arch):
    model = build_model(model_cfg.model_copy(update={"arch": arch}), 3, NAMES, 28, seed=1).eval()
    model.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert AutoConfig.from_pretrained(tmp_path / "m").id2label[1] == "beta"
    x, _ = _batch()
    for loaded in (load_model(tmp_path / "m"), AutoModelForImageClassification.from_pretrained(tmp_path / "m")):
        assert torch.equal(loaded.eval()(pixel_values=x).logits, model(pixel_values=x).logits)


def test_pretrained_dir_is_the_starting_point(model_cfg, tmp_path):
    source = build_model(model_cfg, 3, NAMES, 28, seed=1)
    source.save_pretrained(tmp_path / "ckpt")
    warm = build_model(model_cfg.model_copy(update={"pretrained": str(tmp_path / "ckpt")}), 3, NAMES, 28, seed=99)
    src, dst = source.state_dict(), warm.state_dict()
    assert all(torch.equal(src[k], dst[k]) for k in src)


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_unloadable_pretrained_is_a_clear_error(model_cfg, tmp_path, where):
    path = tmp_path / where
    if where == "empty":
        path.mkdir()
    with pytest.raises(ConfigError, match="model.pretrained") as info:
        build_model(model_cfg.model_copy(update={"pretrained": str(path)}), 3, NAMES, 28, seed=1)
    assert "HF_HUB_OFFLINE" in str(info.value) and "model.pretrained: null" in str(info.value)


def test_load_model_without_checkpoint_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="dvc repro centralized"):
        load_model(tmp_path)


def test_label_names_must_match_num_labels(model_cfg):
    with pytest.raises(ValueError, match="label names"):
        build_model(model_cfg, 4, NAMES, 28, seed=1)
