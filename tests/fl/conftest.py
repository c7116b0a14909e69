"""Tiny federated fixtures: a repo root with 2 clients of learnable 12x12 images, and a matching config."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from fedforge import config, paths
from fedforge.fl import flower_compat  # noqa: F401 - sets FLOWER_ENV in os.environ before anything imports flwr

REPO = Path(__file__).resolve().parents[2]
NUM_CLASSES, SIZE = 3, 12

torch.set_num_threads(1)  # at import too: module-scoped fixtures run before the autouse one below


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.delenv("FEDFORGE_FAULTS", raising=False)
    monkeypatch.setenv("FEDFORGE_MONITOR_URL", "")


def _images(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Class c lights up channel c plus noise: learnable in a few steps, not trivially separable."""
    y = rng.integers(0, NUM_CLASSES, n).astype(np.int64)
    x = rng.normal(0, 1, (n, 3, SIZE, SIZE)).astype(np.float32)
    x[np.arange(n), y] += 0.8
    return x, y


def write_tiny_data(root: Path, dataset: str = "bloodmnist", num_clients: int = 2, seed: int = 0) -> None:
    """artifacts/preprocessed/<ds>/{central,clients} in the interfaces.md layout."""
    rng = np.random.default_rng(seed)
    central = root / paths.preprocessed_central_dir(dataset)
    clients = root / paths.preprocessed_clients_dir(dataset)
    central.mkdir(parents=True)
    clients.mkdir(parents=True)
    for split, n in (("train", 96), ("val", 32), ("test", 48)):
        x, y = _images(rng, n)
        np.save(central / f"{split}_x.npy", x)
        np.save(central / f"{split}_y.npy", y)
    sizes, hists = {}, {}
    for i in range(num_clients):
        for split, n in (("train", 40 + 8 * i), ("val", 12)):
            x, y = _images(rng, n)
            np.save(clients / f"client_{i}_{split}_x.npy", x)
            np.save(clients / f"client_{i}_{split}_y.npy", y)
            sizes.setdefault(f"client_{i}", {})[split] = n
            hists.setdefault(f"client_{i}", {})[split] = np.bincount(y, minlength=NUM_CLASSES).tolist()
    meta = {"dataset": dataset, "data_source": "synthetic", "image_size": SIZE, "num_classes": NUM_CLASSES,
            "label_names": ["a", "b", "c"], "mean": [0, 0, 0], "std": [1, 1, 1], "sizes": {}}
    (central / "meta.json").write_text(json.dumps(meta))
    (clients / "meta.json").write_text(json.dumps({"num_clients": num_clients, "sizes": sizes,
                                                   "label_histograms": hists, "data_source": "synthetic"}))


def tiny_raw(**phase) -> dict:
    """The repo's params.yaml shrunk to 2 clients, a small model and one 2-round phase T."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["partition"]["num_clients"] = 2
    raw["model"].update(embedding_size=4, hidden_sizes=[8, 8], depths=[1, 1], pretrained=None)
    base = dict(raw["phases"]["A"])
    base.update(dataset="bloodmnist", strategy="fedavg", rounds=2, fraction_train=1.0, min_clients=1,
                local_epochs=1, lr=0.01, batch_size=16, warm_start="scratch", bn="global",
                classifier="averaged")
    base.update(phase)
    raw["phases"] = {"T": base}
    raw["device"] = "cpu"
    raw["monitor"]["url"] = ""
    return raw


@pytest.fixture
def tiny_repo(tmp_path) -> Path:
    """A repository root holding tiny preprocessed data for bloodmnist."""
    write_tiny_data(tmp_path)
    return tmp_path


def tiny_config(**phase) -> config.Config:
    return config.parse(tiny_raw(**phase))
