"""Device policy: `device: auto|cpu|cuda|mps` with `device_fallback: cpu|error` for a device that is missing."""
from __future__ import annotations

import logging
import warnings

import torch

from fedforge.config import ConfigError

log = logging.getLogger(__name__)


class DeviceUnavailableError(ConfigError):
    """params.yaml asked for a device this machine does not have, and device_fallback is `error`."""


def available_devices() -> list[str]:
    """The devices torch can use here, best first (cpu is always last and always there)."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def runtime_device(cfg) -> str:
    """Fix torch's CPU thread count (results depend on it) and pick the device, for every training process."""
    torch.set_num_threads(cfg.threads)
    return resolve_device(cfg.device, cfg.device_fallback)


def resolve_device(device: str, fallback: str) -> str:
    """The device to train on: `auto` takes the best one present; a missing explicit one falls back or fails.

    Both values come from a validated Config (config.py allows only auto|cpu|cuda|mps and cpu|error)."""
    present = available_devices()
    if device == "auto":
        return present[0]
    if device in present:
        return device
    message = (f"device: {device!r} is not available on this machine (torch {torch.__version__} sees: "
               f"{', '.join(present)})")
    if fallback == "error":
        raise DeviceUnavailableError(f"{message}. Fix: set device: auto or cpu, or device_fallback: cpu "
                                     "(e.g. `dvc exp run -S device=cpu`).")
    warnings.warn(f"{message}; falling back to cpu (device_fallback: cpu)", RuntimeWarning, stacklevel=2)
    log.warning("%s; falling back to cpu (device_fallback: cpu)", message)
    return "cpu"
