"""Shared fixtures: tiny params and a tiny real data pipeline run, reusable by every engineer's tests.

- `tiny_params` (dict): the repo's params.yaml with data.synthetic.scale 0.02, 2 clients, min_client_size 5.
  Change keys in your test, then `config.parse(d)` or `write_params(tmp_path, d)`.
- `tiny_params_file` (Path): that dict written as tmp_path/params.yaml.
- `tiny_data` (session-scoped TinyData): download + partition + preprocess of BloodMNIST's synthetic twin at
  scale 0.02 (239 train / 36 val / 68 test images, 2 clients) run once per session in its own folder; all
  paths absolute. Treat it as read-only (copy it if a test modifies files). `tiny_data_for(dataset)` builds
  the same for another dataset.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fedforge import config, paths

REPO = Path(__file__).resolve().parents[1]
# Never stream to a developer's running monitor (params monitor.url: auto would find it); tests that need a
# monitor start their own and set FEDFORGE_MONITOR_URL (monkeypatch / subprocess env) explicitly.
os.environ["FEDFORGE_MONITOR_URL"] = ""
TINY = {"data.synthetic.scale": 0.02, "partition.num_clients": 2, "partition.min_client_size": 5}


def set_key(params: dict, dotted: str, value) -> dict:
    """Set params["a"]["b"] for dotted "a.b" (as `dvc exp run -S a.b=value` would); returns params."""
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[leaf] = value
    return params


@functools.cache
def _repo_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def tiny_params_dict(**overrides) -> dict:
    """A fresh copy of params.yaml made tiny; overrides use dotted keys: tiny_params_dict(**{"seed": 1})."""
    params = copy.deepcopy(_repo_params())
    for key, value in {**TINY, **overrides}.items():
        set_key(params, key, value)
    return params


def copy_tracked_files(dst: Path) -> Path:
    """The files git tracks in this repo, copied to `dst` (a clone's working tree without .git or DVC cache)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, files.split("\0")):
        if (REPO / name).is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dst / name)
    return dst


def write_params(folder: Path, params: dict) -> Path:
    """Write params as folder/params.yaml; returns its path."""
    path = Path(folder) / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture
def tiny_params() -> dict:
    return tiny_params_dict()


@pytest.fixture
def tiny_params_file(tmp_path, tiny_params) -> Path:
    return write_params(tmp_path, tiny_params)


@dataclass(frozen=True)
class TinyData:
    """Where a tiny pipeline run left its outputs (absolute paths)."""
    root: Path            # folder the stages ran in (relative paths in params resolve here)
    params: Path          # its params.yaml
    cfg: config.Config
    dataset: str
    npz: Path             # data/medmnist/<ds>/<ds>.npz, MedMNIST format
    partition_dir: Path   # indices/client_<i>_{train,val}.npy, stats.json, label_histogram.json
    central_dir: Path     # {train,val,test}_{x,y}.npy + meta.json
    clients_dir: Path     # client_<i>_{train,val}_{x,y}.npy + meta.json


def run_tiny_pipeline(root: Path, dataset: str = "bloodmnist", params: dict | None = None) -> TinyData:
    """Run download, partition, preprocess (the real stage functions) for one dataset inside `root`."""
    from fedforge.data.download import run_download
    from fedforge.data.partition import run_partition
    from fedforge.data.preprocess import run_preprocess

    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    params_path = write_params(root, params or tiny_params_dict())
    cfg = config.load(params_path)
    with contextlib.chdir(root):
        for step in (run_download, run_partition, run_preprocess):
            step(cfg, dataset=dataset)
    return TinyData(root=root, params=params_path, cfg=cfg, dataset=dataset,
                    npz=root / paths.raw_npz(cfg.data.root, dataset, cfg.data.image_size),
                    partition_dir=root / paths.partition_dir(dataset),
                    central_dir=root / paths.preprocessed_central_dir(dataset),
                    clients_dir=root / paths.preprocessed_clients_dir(dataset))


@pytest.fixture(scope="session")
def tiny_data_for(tmp_path_factory):
    """tiny_data_for("dermamnist") -> TinyData, built once per dataset per session."""
    built: dict[str, TinyData] = {}

    def build(dataset: str = "bloodmnist") -> TinyData:
        if dataset not in built:
            built[dataset] = run_tiny_pipeline(tmp_path_factory.mktemp(f"tiny_{dataset}"), dataset)
        return built[dataset]

    return build


@pytest.fixture(scope="session")
def tiny_data(tiny_data_for) -> TinyData:
    return tiny_data_for("bloodmnist")
