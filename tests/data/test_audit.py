"""audit@<dataset>: metrics of a valid file, and one clear failure per schema violation."""
from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest

from fedforge.data import DataError
from fedforge.data.audit import audit_file, run_audit
from fedforge.data.synthetic import SPLITS, split_class_counts, write_synthetic

SIZES = {s: int(split_class_counts("bloodmnist", s, 0.02).sum()) for s in SPLITS}


@pytest.fixture(scope="module")
def arrays(tmp_path_factory) -> dict[str, np.ndarray]:
    path = write_synthetic(tmp_path_factory.mktemp("audit") / "bloodmnist.npz", "bloodmnist", 28, 0.02, seed=3)
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def audit(tmp_path, arrays, **overrides):
    path = tmp_path / "bloodmnist.npz"
    np.savez(path, **arrays)
    settings = {"source": "synthetic", "dataset": "bloodmnist", "sizes": SIZES, "num_classes": 8, "image_size": 28,
                "official_md5": "x" * 32}
    return audit_file(path, **{**settings, **overrides})


def test_valid_file_metrics(tmp_path, arrays):
    report = audit(tmp_path, arrays)
    assert report["data_source"] == "synthetic" and not report["md5_matches_official"]
    train = report["splits"]["train"]
    assert train["n"] == SIZES["train"]
    assert [train["class_counts"][str(k)] for k in range(8)] == list(split_class_counts("bloodmnist", "train", 0.02))
    expected_mean = arrays["train_images"].reshape(-1, 3).mean(axis=0) / 255
    assert np.allclose([train["pixel_mean"][c] for c in "rgb"], expected_mean, atol=1e-5)
    assert train["duplicates_within"] == 0 and set(report["duplicates_across"].values()) == {0}


def test_exact_duplicates_within_and_across_splits(tmp_path, arrays):
    images = dict(arrays)
    images["train_images"] = arrays["train_images"].copy()
    images["train_images"][1] = images["train_images"][0]
    images["test_images"] = arrays["test_images"].copy()
    images["test_images"][:2] = images["train_images"][5:7]
    report = audit(tmp_path, images)
    assert report["splits"]["train"]["duplicates_within"] == 1
    assert report["duplicates_across"] == {"train_test": 2, "train_val": 0, "val_test": 0}


@pytest.mark.parametrize("break_it, message", [
    (lambda a: a.pop("val_labels"), "missing key val_labels"),
    (lambda a: a.update(test_images=a["test_images"].astype(np.float32)), "test_images has dtype float32"),
    (lambda a: a.update(train_images=a["train_images"][..., :1]), "expected N×28×28×3"),
    (lambda a: a.update(val_labels=a["val_labels"][:, 0]), "val_labels has shape"),
    (lambda a: a["val_labels"].__setitem__((0, 0), 8), r"val_labels\[0\] = 8 is outside \[0, 7\]"),
    (lambda a: a.update(test_images=a["test_images"][:-1], test_labels=a["test_labels"][:-1]),
     f"test split has {SIZES['test'] - 1} images, expected {SIZES['test']}"),
    (lambda a: a.update(train_labels=a["train_labels"][:-1]), "images but"),
])
def test_schema_violation_fails_with_its_name(tmp_path, arrays, break_it, message):
    broken = {k: v.copy() for k, v in arrays.items()}
    break_it(broken)
    with pytest.raises(DataError, match=message):
        audit(tmp_path, broken)


def test_run_audit_writes_metrics_json(tiny_data):
    with contextlib.chdir(tiny_data.root):
        run_audit(tiny_data.cfg, dataset="bloodmnist")
    report = json.loads((tiny_data.root / "artifacts/audit/bloodmnist/audit.json").read_text())
    assert report["data_source"] == "synthetic" and report["file"] == "bloodmnist.npz"
    assert report["splits"]["val"]["n"] == SIZES["val"] == 36
    summary = json.loads((tiny_data.root / "artifacts/audit/bloodmnist/summary.json").read_text())
    assert summary == {"images": SIZES, "duplicates_within": 0, "duplicates_across": 0,
                       "md5_matches_official": False}  # DVC metrics: headline numbers only, no class counts
