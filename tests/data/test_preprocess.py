"""preprocess@<dataset>: train-only statistics, layout of interfaces.md, determinism, preset independence."""
from __future__ import annotations

import contextlib
import shutil

import numpy as np
import pytest
import yaml

from fedforge import config
from fedforge.data.arrays import load_split, md5_file, read_meta
from fedforge.data.partition import run_partition
from fedforge.data.preprocess import run_preprocess
from tests.conftest import set_key, write_params


def test_central_arrays_are_model_ready(tiny_data):
    meta = read_meta(tiny_data.central_dir)
    assert meta["data_source"] == "synthetic" and meta["num_classes"] == 8 and meta["image_size"] == 28
    assert meta["label_names"][0] == "basophil" and len(meta["label_names"]) == 8
    for split in ("train", "val", "test"):
        x, y = load_split(tiny_data.central_dir, split)
        assert isinstance(x, np.memmap) and x.dtype == np.float32 and y.dtype == np.int64
        assert x.shape == (meta["sizes"][split], 3, 28, 28) and y.shape == (meta["sizes"][split],)
    x, _ = load_split(tiny_data.central_dir, "train")
    assert np.allclose(x.mean(axis=(0, 2, 3)), 0, atol=1e-4) and np.allclose(x.std(axis=(0, 2, 3)), 1, atol=1e-3)


def test_statistics_come_from_train_only(tiny_data):
    meta = read_meta(tiny_data.central_dir)
    with np.load(tiny_data.npz) as npz:
        train, test = npz["train_images"], npz["test_images"]
        assert np.array_equal(np.load(tiny_data.central_dir / "test_y.npy"), npz["test_labels"][:, 0])
    assert np.allclose(meta["mean"], train.reshape(-1, 3).mean(axis=0) / 255, atol=1e-9)
    assert np.allclose(meta["std"], (train.reshape(-1, 3) / 255).std(axis=0), atol=1e-9)
    x_test, _ = load_split(tiny_data.central_dir, "test")
    expected = (test.transpose(0, 3, 1, 2) / 255 - np.array(meta["mean"])[:, None, None]) / np.array(meta["std"])[:, None, None]
    assert np.allclose(x_test, expected, atol=1e-5)


def test_client_arrays_are_their_rows_of_train(tiny_data):
    meta = read_meta(tiny_data.clients_dir)
    assert meta["num_clients"] == 2 and meta["data_source"] == "synthetic"
    x_train, y_train = load_split(tiny_data.central_dir, "train")
    for cid in ("client_0", "client_1"):
        for part in ("train", "val"):
            idx = np.load(tiny_data.partition_dir / "indices" / f"{cid}_{part}.npy")
            x, y = load_split(tiny_data.clients_dir, f"{cid}_{part}")
            assert np.array_equal(x, x_train[idx]) and np.array_equal(y, y_train[idx])
            assert meta["sizes"][cid][part] == len(idx)
            assert meta["label_histograms"][cid][part] == np.bincount(y, minlength=8).tolist()


@pytest.fixture
def copy_of_tiny_data(tiny_data, tmp_path):
    shutil.copytree(tiny_data.root, tmp_path / "run")
    return tmp_path / "run"


def digests(folder):
    return {p.name: md5_file(p) for p in sorted(folder.iterdir())}


def test_rerun_is_bit_identical_and_central_ignores_the_preset(tiny_data, copy_of_tiny_data):
    root = copy_of_tiny_data
    central, clients = digests(tiny_data.central_dir), digests(tiny_data.clients_dir)
    with contextlib.chdir(root):
        run_preprocess(tiny_data.cfg, dataset="bloodmnist")
        assert digests(root / "artifacts/preprocessed/bloodmnist/central") == central
        assert digests(root / "artifacts/preprocessed/bloodmnist/clients") == clients
        severe = config.load(write_params(root, set_key(set_key(
            yaml.safe_load(tiny_data.params.read_text()), "partition.preset", "severe"), "partition.min_client_size", 2)))
        run_partition(severe, dataset="bloodmnist")
        run_preprocess(severe, dataset="bloodmnist")
    assert digests(root / "artifacts/preprocessed/bloodmnist/central") == central
    assert digests(root / "artifacts/preprocessed/bloodmnist/clients") != clients


def test_missing_inputs_name_the_stage_to_run(tiny_data, tmp_path):
    with contextlib.chdir(tmp_path), pytest.raises(FileNotFoundError, match="dvc repro download@bloodmnist"):
        run_preprocess(tiny_data.cfg, dataset="bloodmnist")
