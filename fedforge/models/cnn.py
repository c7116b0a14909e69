"""FedForgeCNN: a small CNN for MedMNIST images as a Hugging Face PreTrainedModel (Auto-class registered).

The alternative to the default `model.arch: resnet`. transformers' ResNet uses a 7x7 stride-2 stem plus
max-pool, so a 28 px image is 7 px before the first stage; this net reads the image at native resolution
(3x3 stride-1 stem) and halves it at the start of every stage (28 -> 14 -> 7 -> 4), like the CIFAR-style
ResNets MedMNIST's own baselines use. Measured on the synthetic twin (3 epochs, 28 px) it cost ~3x the
compute of the small ResNet and scored lower, which is why it is not the default; it may pay off on real
images, where fine detail matters (`dvc exp run -S model.arch=cnn`).

Normalisation is GroupNorm by default: it has no running statistics, so FedAvg averages every tensor of
the state dict as is, and a client's local batch statistics never leak into (or fight over) the global
model on non-IID partitions. `norm: batch` is there for comparison.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutputWithNoAttention


class FedForgeCNNConfig(PreTrainedConfig):
    """Widths, depths and normalisation of FedForgeCNN; saved as config.json beside the weights."""

    model_type = "fedforge-cnn"

    def __init__(self, num_channels: int = 3, embedding_size: int = 32, hidden_sizes=(32, 64, 128),
                 depths=(1, 1, 1), norm: str = "group", groups: int = 8, dropout: float = 0.0,
                 image_size: int = 28, **kwargs):
        if norm not in ("group", "batch"):
            raise ValueError(f"norm={norm!r}: expected 'group' or 'batch'")
        if len(hidden_sizes) != len(depths):
            raise ValueError(f"hidden_sizes {list(hidden_sizes)} and depths {list(depths)} need the same length")
        self.num_channels = num_channels
        self.embedding_size = embedding_size
        self.hidden_sizes = list(hidden_sizes)
        self.depths = list(depths)
        self.norm = norm
        self.groups = groups
        self.dropout = dropout
        self.image_size = image_size
        super().__init__(**kwargs)


def _norm(config: FedForgeCNNConfig, channels: int) -> nn.Module:
    if config.norm == "batch":
        return nn.BatchNorm2d(channels)
    groups = max(g for g in range(1, min(config.groups, channels) + 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class ConvBlock(nn.Sequential):
    """conv 3x3 -> norm -> ReLU."""

    def __init__(self, config: FedForgeCNNConfig, c_in: int, c_out: int, stride: int = 1):
        super().__init__(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         _norm(config, c_out), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """Two conv blocks with an identity (or 1x1 projection) shortcut, ResNet 'basic' style."""

    def __init__(self, config: FedForgeCNNConfig, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = ConvBlock(config, c_in, c_out, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), _norm(config, c_out))
        self.shortcut = nn.Identity() if (stride == 1 and c_in == c_out) else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), _norm(config, c_out))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))


class FedForgeCNNPreTrainedModel(PreTrainedModel):
    config_class = FedForgeCNNConfig
    config: FedForgeCNNConfig
    base_model_prefix = "cnn"
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)
            nn.init.zeros_(module.bias)


class FedForgeCNNForImageClassification(FedForgeCNNPreTrainedModel):
    """Stem at native resolution, one stage per hidden size (each starts with stride 2), avg-pool, linear head."""

    def __init__(self, config: FedForgeCNNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        layers: list[nn.Module] = [ConvBlock(config, config.num_channels, config.embedding_size)]
        c_in = config.embedding_size
        for width, depth in zip(config.hidden_sizes, config.depths):
            for j in range(depth):
                layers.append(ResidualBlock(config, c_in, width, stride=2 if j == 0 else 1))
                c_in = width
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(c_in, config.num_labels)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                **kwargs) -> ImageClassifierOutputWithNoAttention:
        """pixel_values float32 B×C×H×W, labels int64 B -> loss (cross-entropy, if labels) and logits."""
        hidden = self.features(pixel_values).mean(dim=(2, 3))  # global average pool; deterministic on CUDA too
        logits = self.classifier(self.dropout(hidden))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutputWithNoAttention(loss=loss, logits=logits)
