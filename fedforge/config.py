"""params.yaml -> frozen pydantic models, validated once, with errors that name the key, the value and the fix.

Each section of params.yaml is a `Section`: frozen, strict (an int is not a string, a bool is not an int),
unknown keys forbidden and no defaults, so a missing key is an error too (the file is the single source of
truth). A field states its allowed values where it is declared (`Literal[...]` for choices, `Field(ge=, le=)`
for ranges), so adding a param is one line here plus its line in params.yaml. Checks that span sections live
in `Config._cross_checks`. pydantic's errors are rewritten into one line per problem:
`<dotted.key>: got <value!r>; allowed: ... Fix it in params.yaml (or the -S override).`
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fedforge.errors import UserError

Dataset = Literal["bloodmnist", "dermamnist", "pathmnist"]
Strategy = Literal["fedavg", "fedprox", "fedadam", "fedavgm", "fedyogi", "fedadagrad", "fedmedian", "fedtrimmedavg"]
Loss = Literal["ce", "weighted_ce", "balanced_softmax", "focal"]  # fedforge/train/losses.py
Augment = Literal["none", "dihedral"]  # fedforge/train/data.py
FIX = "Fix it in params.yaml (or the -S override)."


class ConfigError(UserError, ValueError):
    """A params.yaml problem: the message names the key, the value and what is allowed."""


def _fail(key: str, value: Any, allowed: str) -> NoReturn:
    raise ConfigError(f"{key}: got {value!r}; {allowed}. {FIX}")


class Section(BaseModel):
    """Base of every params.yaml section. A list field adds `Field(min_length=1, strict=False)`: strict=False
    lets the YAML list become the (hashable) tuple, while its items stay strict."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class SyntheticConfig(Section):
    scale: float = Field(ge=1e-4, le=10.0)


class DataConfig(Section):
    source: Literal["synthetic", "medmnist"]
    root: str
    image_size: Literal[28, 64, 128, 224]
    datasets: tuple[Dataset, ...] = Field(min_length=1, strict=False)
    mirror: str
    synthetic: SyntheticConfig

    @field_validator("datasets")
    @classmethod
    def _no_repeats(cls, datasets: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(datasets)) != len(datasets):
            raise ValueError("allowed: no repeated entries")
        return datasets


class PartitionConfig(Section):
    num_clients: int = Field(ge=1, le=1000)
    preset: Literal["iid", "moderate", "severe"]
    alphas: dict[str, float] = Field(min_length=1)
    min_client_size: int = Field(ge=1)
    val_fraction: float = Field(ge=0.0, le=0.5)


class ModelConfig(Section):
    arch: Literal["cnn", "resnet"]
    embedding_size: int = Field(ge=1, le=4096)
    hidden_sizes: tuple[int, ...] = Field(min_length=1, strict=False)
    depths: tuple[int, ...] = Field(min_length=1, strict=False)
    norm: Literal["group", "batch"]
    pretrained: str | None


class CentralizedConfig(Section):
    epochs: int = Field(ge=1, le=10_000)
    batch_size: int = Field(ge=1, le=65_536)
    lr: float = Field(ge=0.0, le=10.0)
    weight_decay: float = Field(ge=0.0, le=1.0)
    logging_steps: int = Field(ge=1)
    loss: Loss
    focal_gamma: float = Field(ge=0.0, le=10.0)
    augment: Augment
    select_on: Literal["loss", "balanced_acc"]


class DpConfig(Section):
    """Differential privacy of one phase (fedforge/fl/privacy.py): none, per hospital (client) or per image (sample)."""

    mode: Literal["none", "client", "sample"]
    noise_multiplier: float = Field(ge=0.0, le=1000.0)
    clipping_norm: float = Field(gt=0.0)
    delta: float = Field(gt=0.0, lt=1.0)
    max_epsilon: float | None = Field(gt=0.0)  # null = no budget limit (epsilon is still reported)


class PhaseConfig(Section):
    dataset: Dataset
    strategy: Strategy
    rounds: int = Field(ge=1, le=100_000)
    fraction_train: float = Field(ge=0.0, le=1.0)
    min_clients: int = Field(ge=1, le=1000)
    local_epochs: int = Field(ge=1, le=1000)
    local_steps: int = Field(ge=0)
    lr: float = Field(ge=0.0, le=10.0)
    batch_size: int = Field(ge=1, le=65_536)
    warm_start: Literal["scratch", "centralized"]
    proximal_mu: float = Field(ge=0.0)
    server_lr: float = Field(ge=0.0)
    server_momentum: float = Field(ge=0.0, le=1.0)
    server_beta_1: float = Field(ge=0.0, lt=1.0)  # FedAdam/FedYogi moment decays, tau: FedOpt adaptivity
    server_beta_2: float = Field(ge=0.0, lt=1.0)
    server_tau: float = Field(gt=0.0)
    trim_beta: float = Field(ge=0.0, lt=0.5)  # FedTrimmedAvg: fraction cut from each end
    weight_decay: float = Field(ge=0.0, le=1.0)
    loss: Loss
    focal_gamma: float = Field(ge=0.0, le=10.0)
    augment: Augment
    norm: Literal["model", "group", "batch"]  # model = model.norm; else this phase's override of it
    bn: Literal["global", "local", "recalibrated"]  # where BatchNorm lives in the federation (fl/batchnorm.py)
    classifier: Literal["averaged", "per_class"]  # how the last layer is aggregated (fl/classifier.py)
    dp: DpConfig


def phase_model(model: ModelConfig, phase: PhaseConfig) -> ModelConfig:
    """model: as `phase` builds it: model.norm replaced by the phase's `norm` override, if any."""
    return model if phase.norm == "model" else model.model_copy(update={"norm": phase.norm})


class FederationConfig(Section):
    engine: Literal["local", "deployment", "simulation"]
    round_timeout: float = Field(ge=1.0)
    workers: Literal["auto"] | Annotated[int, Field(ge=1, le=1024)]  # local engine: hospitals' processes
    clientapp_start: Literal["warm", "cold"]
    secure_aggregation: Literal["none", "secaggplus"]
    client_cpus: float = Field(gt=0.0, le=1024.0)  # simulation: CPUs one ClientApp actor reserves
    client_gpus: float = Field(ge=0.0, le=64.0)  # simulation: GPUs (or a fraction) one actor reserves


class MonitorConfig(Section):
    url: str  # "" = off | "auto" = a running `fedforge monitor` (its endpoint.json) | an http(s):// URL

    @field_validator("url")
    @classmethod
    def _off_auto_or_http(cls, url: str) -> str:
        parts = urlsplit(url)
        if url not in ("", "auto") and not (parts.scheme in ("http", "https") and parts.netloc):
            raise ValueError('allowed: "" (off), auto (find a running `fedforge monitor`) '
                             "or an http(s) URL such as http://127.0.0.1:8090")
        return url


class Config(Section):
    seed: int = Field(ge=0, le=2**32 - 1)
    data: DataConfig
    partition: PartitionConfig
    model: ModelConfig
    centralized: CentralizedConfig
    phases: dict[str, PhaseConfig] = Field(min_length=1)
    federation: FederationConfig
    monitor: MonitorConfig
    device: Literal["auto", "cpu", "cuda", "mps"]
    device_fallback: Literal["cpu", "error"]
    threads: int = Field(ge=1, le=1024)

    def phase(self, name: str) -> PhaseConfig:
        """The phase called `name`, or an error listing the phases params.yaml defines."""
        if name not in self.phases:
            raise ConfigError(f"phases.{name}: no such phase; params.yaml defines {sorted(self.phases)}")
        return self.phases[name]

    def dataset(self, name: str) -> str:
        """`name` if data.datasets lists it (every per-dataset stage asks), else an error naming data.datasets."""
        if name not in self.data.datasets:
            raise ConfigError(f"--dataset {name}: not in data.datasets {list(self.data.datasets)}; add it there "
                              "in params.yaml (or the -S override)")
        return name

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        """Rules that relate keys of different sections; each names the key to fix."""
        model = self.model
        if len(model.hidden_sizes) != len(model.depths):
            _fail("model.depths", list(model.depths), f"allowed: one entry per model.hidden_sizes ({len(model.hidden_sizes)})")
        for preset in ("moderate", "severe"):
            alpha = self.partition.alphas.get(preset)
            if alpha is None or alpha <= 0:
                _fail(f"partition.alphas.{preset}", alpha, "allowed: a positive Dirichlet alpha")
        for name, phase in self.phases.items():
            if phase.dataset not in self.data.datasets:
                _fail(f"phases.{name}.dataset", phase.dataset, f"allowed: one of data.datasets {list(self.data.datasets)}")
            if phase.min_clients > self.partition.num_clients:
                _fail(f"phases.{name}.min_clients", phase.min_clients,
                      f"allowed: at most partition.num_clients ({self.partition.num_clients})")
            self._dp_checks(name, phase)
            self._bn_checks(name, phase)
            if phase.classifier == "per_class" and (phase.dp.mode != "none" or self.federation.secure_aggregation != "none"):
                _fail(f"phases.{name}.classifier", phase.classifier, "allowed: averaged with dp.mode client or sample "
                      "or with secure aggregation (per-class weights by label counts are outside what the privacy "
                      "accountant covers and what SecAgg+ lets the server see)")
            if self.federation.secure_aggregation != "none" and phase.dp.mode != "none":
                _fail(f"phases.{name}.dp.mode", phase.dp.mode, "allowed: none with federation.secure_aggregation "
                      "secaggplus (fl/secagg_app.py does not run DP yet)")
        if self.federation.secure_aggregation != "none" and self.partition.num_clients < 3:
            _fail("federation.secure_aggregation", self.federation.secure_aggregation,
                  "allowed: none below 3 hospitals (SecAgg+ masks need 3 or more: partition.num_clients)")
        return self

    def phase_norm(self, phase: PhaseConfig) -> str:
        """The normalisation a phase's model uses: its `norm` override, or model.norm."""
        return phase.norm if phase.norm != "model" else self.model.norm

    def _bn_checks(self, name: str, phase: PhaseConfig) -> None:
        """bn: local / recalibrated need BatchNorm to act on, and the plain Message-API apps."""
        if phase.bn == "global":
            return
        if self.phase_norm(phase) != "batch":
            _fail(f"phases.{name}.bn", phase.bn, f"allowed: global with norm {self.phase_norm(phase)} (the model has "
                  "no BatchNorm to keep local or re-estimate)")
        if self.federation.secure_aggregation != "none":
            _fail(f"phases.{name}.bn", phase.bn, "allowed: global with federation.secure_aggregation secaggplus "
                  "(fl/secagg_app.py aggregates the whole state_dict)")

    def _dp_checks(self, name: str, phase: PhaseConfig) -> None:
        """A DP phase must protect all shared state and fit what the accountant can account for."""
        if phase.norm != "model" and phase.norm != self.model.norm and phase.warm_start == "centralized":
            _fail(f"phases.{name}.norm", phase.norm, f"allowed: model (or {self.model.norm}) with warm_start: "
                  "centralized, whose model was trained with model.norm")
        dp = phase.dp
        if dp.mode == "none":
            return
        if dp.noise_multiplier <= 0:
            _fail(f"phases.{name}.dp.noise_multiplier", dp.noise_multiplier,
                  "allowed: > 0 when dp.mode is not none (no noise, no privacy)")
        if self.phase_norm(phase) != "group" and phase.bn != "local":
            _fail(f"phases.{name}.norm", phase.norm, f"allowed: group, or bn: local, for dp.mode {dp.mode} (the "
                  f"model would share BatchNorm statistics without noise, which voids the guarantee; model.norm is "
                  f"{self.model.norm}, phases.{name}.bn is {phase.bn})")
        if dp.mode == "sample" and self.phase_norm(phase) != "group":
            _fail(f"phases.{name}.norm", phase.norm, "allowed: group for dp.mode sample (Opacus' per-sample "
                  "gradients do not support BatchNorm, even a local one)")
        if dp.mode == "client" and phase.strategy not in ("fedavg", "fedprox"):
            _fail(f"phases.{name}.strategy", phase.strategy, "allowed: fedavg or fedprox with dp.mode client "
                  "(the privacy accountant needs FedAvg's own unweighted average)")
        if dp.mode == "sample" and phase.proximal_mu > 0:
            _fail(f"phases.{name}.proximal_mu", phase.proximal_mu, "allowed: 0 with dp.mode sample (DP-SGD and the "
                  "FedProx term are not combined in one Trainer yet)")
        if dp.mode == "client" and phase.fraction_train != 1.0:
            _fail(f"phases.{name}.fraction_train", phase.fraction_train, "allowed: 1.0 with dp.mode client "
                  "(the accountant counts every hospital in every round; sampling amplification is not accounted)")


# pydantic's wording where it would name a Python type instead of what to write in YAML
_ALLOWED = {"tuple_type": "a list", "too_short": "at least one entry", "model_type": "a mapping",
            "dict_type": "a mapping"}


def _dotted(loc: tuple) -> str:
    """('data', 'datasets', 1) -> 'data.datasets[1]'; () -> 'params.yaml' (the whole file)."""
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    return key or "params.yaml"


def _section(loc: tuple) -> type[Section]:
    """The Section class found at `loc` (dict keys and list indexes step into the item type)."""
    hint: Any = Config
    for part in loc:
        hint = hint.model_fields[part].annotation if hasattr(hint, "model_fields") else get_args(hint)[-1]
    return hint


def _problem(err: dict) -> str:
    """One line for one pydantic error."""
    key, kind, ctx = _dotted(err["loc"]), err["type"], err.get("ctx", {})
    if kind == "missing":
        return f"{key}: missing; add it to params.yaml (see the commented defaults in the repo's params.yaml)"
    if kind == "value_error" and isinstance(ctx["error"], ConfigError):
        return str(ctx["error"])  # a cross check: it names its own key
    if kind == "value_error":
        allowed = str(ctx["error"])
    elif kind == "extra_forbidden":
        allowed = f"unknown key; allowed keys here: {', '.join(_section(err['loc'][:-1]).model_fields)}"
    else:
        allowed = "allowed: " + _ALLOWED.get(kind, err["msg"].removeprefix("Input should be "))
    return f"{key}: got {err['input']!r}; {allowed}. {FIX}"


def _problems(exc: ValidationError) -> str:
    """One line per problem; a list's own error is dropped when one of its items already explains it."""
    lines, seen = [], []
    for err in exc.errors():
        if not any(loc[:len(err["loc"])] == err["loc"] for loc in seen):
            lines.append(_problem(err))
            seen.append(err["loc"])
    return "\n".join(lines)


def parse(raw: Any) -> Config:
    """Validate a params mapping (as read from YAML or JSON) into a frozen Config."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None


def load(path: str | Path = "params.yaml") -> Config:
    """Read and validate params.yaml once; each error line says which file and key are wrong."""
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
        raise ConfigError("\n".join(f"{path}: {line}" for line in str(exc).splitlines())) from None
