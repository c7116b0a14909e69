"""Tiny in-memory arrays in the preprocessed layout (float32 N×3×28×28, int64 labels) for trainer tests."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fedforge import config
from tests.conftest import tiny_params_dict


@pytest.fixture(autouse=True)
def one_thread():
    """Tests share 2 cores with everything else; one intra-op thread keeps them predictable."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def learnable_arrays(n: int, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class shows as a brighter channel: a model can learn it within a few steps."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(classes), rng.integers(0, classes, n - classes)]).astype(np.int64)
    x = rng.normal(size=(n, 3, 28, 28)).astype(np.float32)
    x[np.arange(n), y % 3] += 1.5
    return x, y


@pytest.fixture
def tiny_arrays():
    return learnable_arrays(96)


@pytest.fixture
def tiny_cfg() -> config.Config:
    return config.parse(tiny_params_dict())
