"""ACC, AUC (one-vs-rest, as medmnist.Evaluator computes them), balanced accuracy and loss from logits."""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

METRIC_KEYS = ("acc", "auc", "balanced_acc", "loss")  # the headline metrics every split reports, in this order


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities in float64 (the scores medmnist.Evaluator expects)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def ovr_auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean over classes of the one-vs-rest ROC AUC, exactly medmnist's getAUC for multi-class tasks.

    medmnist raises when a class has no positive (or no negative) example; we average over the classes
    where the AUC is defined instead (NaN if none), so tiny client splits still get a number. With every
    class present, which is the case for the real val/test splits, the two agree exactly.
    """
    scores = [roc_auc_score((labels == k).astype(float), probs[:, k])
              for k in range(probs.shape[1]) if 0 < np.sum(labels == k) < len(labels)]
    return float(sum(scores) / len(scores)) if scores else float("nan")  # summed in order, as medmnist does


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """{acc, auc, balanced_acc, loss} for N×K logits and N integer labels (loss = mean cross-entropy).

    Any non-finite logit gives all-NaN metrics: the caller (the FL server) reports the divergence itself."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"logits must be N×K for N={len(labels)} labels, got shape {logits.shape}")
    if not np.isfinite(logits).all():  # a diverged model: sklearn would raise "Input contains NaN"
        return {key: float("nan") for key in METRIC_KEYS}
    probs = softmax(logits)
    preds = probs.argmax(axis=1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted[np.arange(len(labels)), labels] - np.log(np.exp(shifted).sum(axis=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true" on tiny splits
        balanced = balanced_accuracy_score(labels, preds)
    return {"acc": float(np.mean(preds == labels)), "auc": ovr_auc(labels, probs),
            "balanced_acc": float(balanced), "loss": float(-np.mean(log_probs))}
