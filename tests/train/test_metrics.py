"""classification_metrics: ACC and AUC exactly as medmnist.Evaluator computes them; loss and balanced ACC."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from medmnist import Evaluator
from sklearn.metrics import balanced_accuracy_score

from fedforge.train.metrics import classification_metrics, softmax


def _evaluator(tmp_path, flag: str, labels: np.ndarray) -> Evaluator:
    """medmnist's Evaluator reads labels from <root>/<flag>.npz; give it ours (N×1 uint8, like MedMNIST)."""
    n = len(labels)
    np.savez(tmp_path / f"{flag}.npz", **{f"{s}_labels": labels.reshape(-1, 1).astype(np.uint8) for s in ("train", "val", "test")},
             **{f"{s}_images": np.zeros((n, 2, 2, 3), np.uint8) for s in ("train", "val", "test")})
    return Evaluator(flag, "test", root=str(tmp_path))


@pytest.mark.parametrize(("flag", "classes", "seed"), [("bloodmnist", 8, 0), ("dermamnist", 7, 1), ("pathmnist", 9, 2)])
def test_acc_and_auc_equal_medmnist_evaluator(tmp_path, flag, classes, seed):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.arange(classes), rng.integers(0, classes, 300)])
    logits = rng.normal(size=(len(labels), classes)).astype(np.float32)
    logits[np.arange(len(labels)), labels] += rng.uniform(0, 2, len(labels)).astype(np.float32)  # better than chance
    ours = classification_metrics(logits, labels)
    theirs = _evaluator(tmp_path, flag, labels).evaluate(softmax(logits))
    assert ours["acc"] == theirs.ACC
    assert ours["auc"] == theirs.AUC
    assert 0.5 < ours["auc"] < 1.0


def test_loss_and_balanced_accuracy():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 50)
    logits = rng.normal(size=(50, 4)) * 3
    m = classification_metrics(logits, labels)
    expected_loss = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    assert m["loss"] == pytest.approx(expected_loss, rel=1e-12)
    assert m["balanced_acc"] == balanced_accuracy_score(labels, logits.argmax(1))
    assert m["acc"] == np.mean(logits.argmax(1) == labels)


def test_perfect_and_extreme_logits_are_finite():
    labels = np.array([0, 1, 2, 2])
    logits = np.eye(3)[labels] * 1e4
    m = classification_metrics(logits, labels)
    assert (m["acc"], m["auc"], m["balanced_acc"]) == (1.0, 1.0, 1.0)
    assert m["loss"] == pytest.approx(0.0, abs=1e-12)


def test_class_missing_from_labels_still_gives_an_auc():
    """medmnist would raise here; tiny client splits need a number (mean over the classes present)."""
    labels = np.array([0, 0, 1, 1])
    logits = np.array([[2.0, 0, 0], [1.0, 0, 0], [0, 2.0, 0], [0, 1.0, 0]])
    assert classification_metrics(logits, labels)["auc"] == 1.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="N×K"):
        classification_metrics(np.zeros((3, 2)), np.zeros(4, dtype=int))
