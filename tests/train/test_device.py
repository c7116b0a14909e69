"""Device policy: auto picks what exists; a missing explicit device falls back to CPU or fails."""
from __future__ import annotations

import pytest
import torch

from fedforge.config import ConfigError
from fedforge.train.device import DeviceUnavailableError, resolve_device


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_auto_and_cpu_on_a_cpu_machine(no_accelerator):
    assert resolve_device("auto", "cpu") == "cpu"
    assert resolve_device("cpu", "error") == "cpu"


def test_auto_prefers_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto", "error") == "cuda"
    assert resolve_device("cuda", "error") == "cuda"


def test_missing_cuda_falls_back_to_cpu_with_a_warning(no_accelerator, caplog):
    with pytest.warns(RuntimeWarning, match="'cuda' is not available.*falling back to cpu"):
        assert resolve_device("cuda", "cpu") == "cpu"
    assert "falling back to cpu" in caplog.text


@pytest.mark.parametrize("asked", ["cuda", "mps"])
def test_missing_device_with_fallback_error_raises(no_accelerator, asked):
    with pytest.raises(DeviceUnavailableError, match=f"'{asked}' is not available.*device_fallback: cpu"):
        resolve_device(asked, "error")
    assert issubclass(DeviceUnavailableError, ConfigError)  # the CLI turns it into one line and exit code 2


def test_real_machine_cuda_request_is_resolved_without_a_gpu():
    """The installed torch is a CUDA build; on this GPU-less machine asking for cuda must not pass through."""
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.warns(RuntimeWarning):
        assert resolve_device("cuda", "cpu") == "cpu"
    with pytest.raises(DeviceUnavailableError):
        resolve_device("cuda", "error")
