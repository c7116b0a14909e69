"""params.yaml -> frozen dataclasses, validated once, with errors that name the key, the value and the fix.

Every default lives in params.yaml; the dataclasses here only describe shape and allowed values, so a
missing key is an error too (the file is the single source of truth).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from fedforge.errors import UserError

DATASETS = ("bloodmnist", "dermamnist", "pathmnist")
STRATEGIES = ("fedavg", "fedprox", "fedadam", "fedavgm")


class ConfigError(UserError, ValueError):
    """A params.yaml problem: the message names the key, the value and what is allowed."""


def _choice(*allowed: Any) -> dict:
    return {"choices": allowed}


def _range(lo: float | None = None, hi: float | None = None) -> dict:
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class SyntheticConfig:
    scale: float = field(metadata=_range(1e-4, 10.0))


@dataclass(frozen=True)
class DataConfig:
    source: str = field(metadata=_choice("synthetic", "medmnist"))
    root: str
    image_size: int = field(metadata=_choice(28, 64, 128, 224))
    datasets: tuple[str, ...] = field(metadata={**_choice(*DATASETS), "unique": True})
    mirror: str
    synthetic: SyntheticConfig


@dataclass(frozen=True)
class PartitionConfig:
    num_clients: int = field(metadata=_range(1, 1000))
    preset: str = field(metadata=_choice("iid", "moderate", "severe"))
    alphas: dict[str, float]
    min_client_size: int = field(metadata=_range(1, None))
    val_fraction: float = field(metadata=_range(0.0, 0.5))


@dataclass(frozen=True)
class ModelConfig:
    arch: str = field(metadata=_choice("cnn", "resnet"))
    embedding_size: int = field(metadata=_range(1, 4096))
    hidden_sizes: tuple[int, ...]
    depths: tuple[int, ...]
    norm: str = field(metadata=_choice("group", "batch"))
    pretrained: str | None


@dataclass(frozen=True)
class CentralizedConfig:
    epochs: int = field(metadata=_range(1, 10_000))
    batch_size: int = field(metadata=_range(1, 65_536))
    lr: float = field(metadata=_range(0.0, 10.0))
    weight_decay: float = field(metadata=_range(0.0, 1.0))
    logging_steps: int = field(metadata=_range(1, None))


@dataclass(frozen=True)
class PhaseConfig:
    dataset: str = field(metadata=_choice(*DATASETS))
    strategy: str = field(metadata=_choice(*STRATEGIES))
    rounds: int = field(metadata=_range(1, 100_000))
    fraction_train: float = field(metadata=_range(0.0, 1.0))
    min_clients: int = field(metadata=_range(1, 1000))
    local_epochs: int = field(metadata=_range(1, 1000))
    local_steps: int = field(metadata=_range(0, None))
    lr: float = field(metadata=_range(0.0, 10.0))
    batch_size: int = field(metadata=_range(1, 65_536))
    warm_start: str = field(metadata=_choice("scratch", "centralized"))
    proximal_mu: float = field(metadata=_range(0.0, None))
    server_lr: float = field(metadata=_range(0.0, None))
    server_momentum: float = field(metadata=_range(0.0, 1.0))
    weight_decay: float = field(metadata=_range(0.0, 1.0))


@dataclass(frozen=True)
class FederationConfig:
    engine: str = field(metadata=_choice("local", "deployment"))
    round_timeout: float = field(metadata=_range(1.0, None))
    clientapp_start: str = field(metadata=_choice("warm", "cold"))


@dataclass(frozen=True)
class MonitorConfig:
    url: str  # "" = off | "auto" = a running `fedforge monitor` (its endpoint.json) | an http(s):// URL

    def __post_init__(self):
        parts = urlsplit(self.url)
        if self.url not in ("", "auto") and not (parts.scheme in ("http", "https") and parts.netloc):
            _fail("monitor.url", self.url, 'allowed: "" (off), auto (find a running `fedforge monitor`) '
                  "or an http(s) URL such as http://127.0.0.1:8090")


@dataclass(frozen=True)
class Config:
    seed: int = field(metadata=_range(0, 2**32 - 1))
    data: DataConfig
    partition: PartitionConfig
    model: ModelConfig
    centralized: CentralizedConfig
    phases: dict[str, PhaseConfig]
    federation: FederationConfig
    monitor: MonitorConfig
    device: str = field(metadata=_choice("auto", "cpu", "cuda", "mps"))
    device_fallback: str = field(metadata=_choice("cpu", "error"))
    threads: int = field(metadata=_range(1, 1024))

    def phase(self, name: str) -> PhaseConfig:
        """The phase called `name`, or an error listing the phases params.yaml defines."""
        if name not in self.phases:
            raise ConfigError(f"phases.{name}: no such phase; params.yaml defines {sorted(self.phases)}")
        return self.phases[name]


def _fail(key: str, value: Any, allowed: str) -> typing.NoReturn:
    raise ConfigError(f"{key}: got {value!r}; {allowed}. Fix it in params.yaml (or the -S override).")


def _check_meta(key: str, value: Any, meta: typing.Mapping) -> None:
    if "choices" in meta and value not in meta["choices"]:
        _fail(key, value, f"allowed: {', '.join(map(str, meta['choices']))}")
    if "range" in meta:
        lo, hi = meta["range"]
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            _fail(key, value, f"allowed range: [{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]")


def _convert(key: str, value: Any, hint: Any, meta: typing.Mapping) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return _convert(key, value, next(o for o in options if o is not type(None)), meta)
    if origin is tuple:
        if not isinstance(value, list) or not value:
            _fail(key, value, "expected a non-empty list")
        (item_hint, _) = typing.get_args(hint)
        items = tuple(_convert(f"{key}[{i}]", v, item_hint, {}) for i, v in enumerate(value))
        for i, v in enumerate(items):
            _check_meta(f"{key}[{i}]", v, {k: v for k, v in meta.items() if k != "unique"})
        if meta.get("unique") and len(set(items)) != len(items):
            _fail(key, value, "expected no repeated entries")
        return items
    if origin is dict:
        if not isinstance(value, dict) or not value:
            _fail(key, value, "expected a non-empty mapping")
        _, val_hint = typing.get_args(hint)
        return {str(k): _convert(f"{key}.{k}", v, val_hint, {}) for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if hint is str and value is not None and not isinstance(value, str):
        _fail(key, value, "expected a string")
    if not isinstance(value, hint) or (hint is not bool and isinstance(value, bool)):
        _fail(key, value, f"expected {hint.__name__}")
    _check_meta(key, value, meta)
    return value


def _build(cls: type, data: Any, prefix: str = "") -> Any:
    where = prefix or "params.yaml"
    if not isinstance(data, dict):
        _fail(where, data, "expected a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        _fail(key, data[unknown[0]], f"unknown key; known keys here: {', '.join(names)}")
    missing = [n for n in names if n not in data]
    if missing:
        key = f"{prefix}.{missing[0]}" if prefix else missing[0]
        raise ConfigError(f"{key}: missing; add it to params.yaml (see the commented defaults in the repo's params.yaml)")
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        values[f.name] = _convert(key, data[f.name], hints[f.name], f.metadata)
    return cls(**values)


def _cross_checks(cfg: Config) -> None:
    if len(cfg.model.hidden_sizes) != len(cfg.model.depths):
        _fail("model.depths", list(cfg.model.depths), f"needs one entry per model.hidden_sizes ({len(cfg.model.hidden_sizes)})")
    for preset in ("moderate", "severe"):
        alpha = cfg.partition.alphas.get(preset)
        if alpha is None or alpha <= 0:
            _fail(f"partition.alphas.{preset}", alpha, "expected a positive Dirichlet alpha")
    for name, phase in cfg.phases.items():
        if phase.dataset not in cfg.data.datasets:
            _fail(f"phases.{name}.dataset", phase.dataset, f"must be one of data.datasets {list(cfg.data.datasets)}")
        if phase.min_clients > cfg.partition.num_clients:
            _fail(f"phases.{name}.min_clients", phase.min_clients,
                  f"cannot exceed partition.num_clients ({cfg.partition.num_clients})")


def parse(raw: dict) -> Config:
    """Validate a params mapping (as read from YAML) into a frozen Config."""
    cfg = _build(Config, raw)
    _cross_checks(cfg)
    return cfg


def load(path: str | Path = "params.yaml") -> Config:
    """Read and validate params.yaml once; the error says which file and key are wrong."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: not found; run from the repository root or pass --params PATH")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    try:
        return parse(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
