"""The synthetic twin: MedMNIST's schema, sizes and proportions, deterministic, learnable but not trivial."""
from __future__ import annotations

import numpy as np
import pytest

from fedforge.data import label_names
from fedforge.data.arrays import md5_file
from fedforge.data.synthetic import CLASS_COUNTS, SPLIT_SIZES, SPLITS, split_class_counts, write_synthetic


@pytest.mark.parametrize("dataset", sorted(CLASS_COUNTS))
def test_scale_one_reproduces_real_sizes_and_proportions(dataset):
    assert tuple(split_class_counts(dataset, "train", 1.0)) == CLASS_COUNTS[dataset]
    for split in SPLITS:
        counts = split_class_counts(dataset, split, 1.0)
        assert counts.sum() == SPLIT_SIZES[dataset][split]
        assert len(counts) == len(label_names(dataset))
        share = np.asarray(CLASS_COUNTS[dataset]) / sum(CLASS_COUNTS[dataset])
        assert np.abs(counts / counts.sum() - share).max() < 0.005


def test_derma_test_majority_matches_real_imbalance():
    counts = split_class_counts("dermamnist", "test", 1.0)
    assert abs(counts.max() / counts.sum() - 1341 / 2005) < 0.002


def test_tiny_scale_keeps_every_class():
    for dataset in CLASS_COUNTS:
        for split in SPLITS:
            assert split_class_counts(dataset, split, 0.001).min() >= 3


def test_file_schema(tmp_path):
    path = write_synthetic(tmp_path / "dermamnist.npz", "dermamnist", 28, 0.05, seed=0)
    with np.load(path) as npz:
        assert sorted(npz.files) == sorted(f"{s}_{k}" for s in SPLITS for k in ("images", "labels"))
        for split in SPLITS:
            images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
            n = split_class_counts("dermamnist", split, 0.05).sum()
            assert images.shape == (n, 28, 28, 3) and images.dtype == np.uint8
            assert labels.shape == (n, 1) and labels.dtype == np.uint8
            assert np.array_equal(np.bincount(labels[:, 0], minlength=7), split_class_counts("dermamnist", split, 0.05))
            assert images.std() > 10  # real content, not a constant


def test_deterministic_bytes_and_seed_dependent(tmp_path):
    a = write_synthetic(tmp_path / "a.npz", "bloodmnist", 28, 0.02, seed=42)
    b = write_synthetic(tmp_path / "b.npz", "bloodmnist", 28, 0.02, seed=42)
    c = write_synthetic(tmp_path / "c.npz", "bloodmnist", 28, 0.02, seed=43)
    assert md5_file(a) == md5_file(b)
    assert md5_file(a) != md5_file(c)


def test_datasets_differ_for_the_same_seed(tmp_path):
    a = write_synthetic(tmp_path / "a.npz", "bloodmnist", 28, 0.02, seed=1)
    b = write_synthetic(tmp_path / "b.npz", "pathmnist", 28, 0.002, seed=1)
    with np.load(a) as x, np.load(b) as y:
        assert not np.array_equal(x["val_images"][:3], y["val_images"][:3])


def test_real_medmnist_class_loads_our_file(tmp_path):
    import medmnist

    write_synthetic(tmp_path / "bloodmnist.npz", "bloodmnist", 28, 1.0, seed=42)  # full size: len() checks it
    for split in SPLITS:
        ds = medmnist.BloodMNIST(split=split, root=str(tmp_path), size=28)
        assert len(ds) == SPLIT_SIZES["bloodmnist"][split]
    image, label = ds[0]
    assert image.size == (28, 28) and image.mode == "RGB" and 0 <= int(label[0]) < 8


def test_medmnist_loads_other_image_sizes(tmp_path):
    import medmnist

    write_synthetic(tmp_path / "dermamnist_64.npz", "dermamnist", 64, 0.01, seed=0)
    ds = medmnist.DermaMNIST(split="val", root=str(tmp_path), size=64)
    assert ds.imgs.shape[1:] == (64, 64, 3)
    image, _ = ds[0]
    assert image.size == (64, 64)


def test_classes_are_learnable_but_not_trivially(tmp_path):
    """A linear model (ridge on 7x7-pooled pixels) beats the majority rate clearly, yet is far from perfect.

    (A small CNN does better: ~0.75 test accuracy on BloodMNIST's twin after a few epochs, ~0.75 on Derma's
    where the majority class is 0.67; not run here because it takes minutes on a shared CPU.)
    """
    path = write_synthetic(tmp_path / "bloodmnist.npz", "bloodmnist", 28, 0.25, seed=42)

    def features(images):
        pooled = images.reshape(len(images), 7, 4, 7, 4, 3).mean(axis=(2, 4)).reshape(len(images), -1) / 255
        return np.hstack([pooled, np.ones((len(images), 1))])

    with np.load(path) as npz:
        x_train, y_train = features(npz["train_images"]), npz["train_labels"][:, 0]
        x_test, y_test = features(npz["test_images"]), npz["test_labels"][:, 0]
    weights = np.linalg.solve(x_train.T @ x_train + 1e-2 * np.eye(x_train.shape[1]), x_train.T @ np.eye(8)[y_train])
    accuracy = ((x_test @ weights).argmax(axis=1) == y_test).mean()
    majority = np.bincount(y_test).max() / len(y_test)
    assert majority + 0.15 < accuracy < 0.9
