"""Build the image classifier from params.yaml `model:` (offline), or start from a checkpoint when asked.

Every model here is a transformers PreTrainedModel: forward(pixel_values float32 B×3×H×W, labels int64 B)
returns loss + logits, save_pretrained writes config.json (with the label names) + model.safetensors, and
`load_model` reads it back through AutoModelForImageClassification.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import AutoModelForImageClassification, PreTrainedModel, ResNetConfig, ResNetForImageClassification

from fedforge.config import ConfigError, ModelConfig
from fedforge.models import (  # also registers the Auto classes
    FedForgeCNNConfig,
    FedForgeCNNForImageClassification,
    FedForgeResNetConfig,
    FedForgeResNetForImageClassification,
)

log = logging.getLogger(__name__)


def label_maps(label_names: list[str]) -> tuple[dict[int, str], dict[str, int]]:
    """id2label / label2id for the model config, so a saved model names its classes."""
    id2label = {i: str(name) for i, name in enumerate(label_names)}
    return id2label, {name: i for i, name in id2label.items()}


def _from_config(model_cfg: ModelConfig, num_labels: int, label_names: list[str], image_size: int) -> PreTrainedModel:
    id2label, label2id = label_maps(label_names)
    common = {"num_channels": 3, "embedding_size": model_cfg.embedding_size, "hidden_sizes": list(model_cfg.hidden_sizes),
                  "depths": list(model_cfg.depths), "num_labels": num_labels, "id2label": id2label, "label2id": label2id}
    if model_cfg.arch == "cnn":
        return FedForgeCNNForImageClassification(FedForgeCNNConfig(norm=model_cfg.norm, image_size=image_size, **common))
    if model_cfg.arch == "resnet" and model_cfg.norm == "batch":  # the stock model: loads with plain transformers
        return ResNetForImageClassification(ResNetConfig(layer_type="basic", **common))
    if model_cfg.arch == "resnet":
        return FedForgeResNetForImageClassification(FedForgeResNetConfig(layer_type="basic", norm=model_cfg.norm,
                                                                         **common))
    raise ConfigError(f"model.arch: got {model_cfg.arch!r}; allowed: cnn, resnet. Fix it in params.yaml.")


def _from_pretrained(source: str, num_labels: int, label_names: list[str]) -> PreTrainedModel:
    id2label, label2id = label_maps(label_names)
    try:
        model = AutoModelForImageClassification.from_pretrained(
            source, id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True)
    except (OSError, ValueError) as exc:
        if Path(source).exists():
            where = "a directory, but not a loadable checkpoint"
        elif source.startswith(("/", ".", "~")):
            where = "no such directory"
        else:
            where = "not a local directory, and not reachable on the Hugging Face Hub"
        raise ConfigError(
            f"model.pretrained: cannot load {source!r} ({where}: {type(exc).__name__}: {str(exc).splitlines()[0]}). "
            "Fix: point it at a save_pretrained directory (config.json + model.safetensors, e.g. "
            "artifacts/centralized/bloodmnist/model); or download the hub checkpoint once while online "
            "(unset HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE) and use its local path; or set model.pretrained: null "
            "to build the model from params.yaml.") from exc
    log.info("model: started from checkpoint %s (%s)", source, type(model).__name__)
    return model


def build_model(model_cfg: ModelConfig, num_labels: int, label_names: list[str], image_size: int,
                seed: int) -> PreTrainedModel:
    """The model params.yaml describes, with seeded weights (the global RNG is left untouched)."""
    if len(label_names) != num_labels:
        raise ValueError(f"{len(label_names)} label names for {num_labels} labels; meta.json label_names must match")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if model_cfg.pretrained:
            return _from_pretrained(model_cfg.pretrained, num_labels, label_names)
        model = _from_config(model_cfg, num_labels, label_names, image_size)
    log.info("model: %s built from params (%d parameters)", type(model).__name__, model.num_parameters())
    return model


def load_model(path: str | Path) -> PreTrainedModel:
    """A model saved with save_pretrained (ours or any transformers image classifier), via the Auto classes."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: no config.json here; expected a save_pretrained model directory "
                                "(e.g. run `dvc repro centralized@bloodmnist` to create artifacts/centralized/bloodmnist/model)")
    return AutoModelForImageClassification.from_pretrained(path)
