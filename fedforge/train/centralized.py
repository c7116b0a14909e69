"""The centralized baseline: the Trainer on the whole train split, best epoch chosen on val, scored on test.

Writes into artifacts/centralized/<dataset>/: model/ (save_pretrained, label names in config.json),
metrics.json (DVC metrics; only seed-determined values, so it is reproduced bit for bit), plots/
(train_loss.tsv, eval.tsv, confusion.json for DVC plots), loss_curve.svg, and timing.json (wall-clock
throughput; deliberately not a DVC output, since it differs on every run).
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from fedforge import io, paths
from fedforge.config import Config
from fedforge.data.arrays import load_split, read_meta
from fedforge.models.factory import build_model
from fedforge.train import plots
from fedforge.train.data import ArrayDataset
from fedforge.train.device import runtime_device
from fedforge.train.metrics import classification_metrics
from fedforge.train.trainer import accuracy_metrics, evaluate, fit, predict_logits, training_arguments

log = logging.getLogger(__name__)


def run_centralized(cfg: Config, dataset: str, *, artifacts: Path = paths.ARTIFACTS) -> dict:
    """Train, select on val, evaluate on test, write every output; returns the metrics.json content."""
    central = paths.preprocessed_central_dir(dataset, artifacts)
    out = paths.centralized_dir(dataset, artifacts)
    meta = read_meta(central)
    train, val, test = (ArrayDataset(*load_split(central, s)) for s in ("train", "val", "test"))
    device = runtime_device(cfg)
    c = cfg.centralized
    log.info("centralized %s (%s data): %d train / %d val / %d test images, device %s, %d epochs",
             dataset, meta["data_source"], len(train), len(val), len(test), device, c.epochs)

    model = build_model(cfg.model, meta["num_classes"], meta["label_names"], meta["image_size"], cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".checkpoints-", dir=out) as checkpoints:
        args = training_arguments(
            checkpoints, epochs=c.epochs, batch_size=c.batch_size, lr=c.lr, weight_decay=c.weight_decay,
            seed=cfg.seed, device=device, logging_steps=c.logging_steps,
            eval_strategy="epoch", save_strategy="epoch", save_only_model=True,
            load_best_model_at_end=True, metric_for_best_model=c.select_on, greater_is_better=c.select_on != "loss")
        result = fit(model, train, args, eval_dataset=val, compute_metrics=accuracy_metrics, loss=c.loss,
                     focal_gamma=c.focal_gamma, augment=c.augment)
    history = result["log_history"]
    evals = plots.eval_rows(history)
    column, sign = (2, 1) if c.select_on == "loss" else (5, -1)  # eval_rows: epoch, step, loss, acc, auc, bal. acc
    best_epoch = min(evals, key=lambda r: (sign * r[column], r[0]))[0] if evals else c.epochs

    eval_batch = max(c.batch_size, 256)
    val_metrics = evaluate(model, val, batch_size=eval_batch, device=device)
    test_logits = predict_logits(model, test, batch_size=eval_batch, device=device)
    test_metrics = classification_metrics(test_logits, np.asarray(test.y))

    io.save_model(model, out / "model")
    train_rows = plots.train_loss_rows(history)
    plots.write_tsv(out / "plots" / "train_loss.tsv", ["step", "epoch", "loss"], train_rows)
    plots.write_tsv(out / "plots" / "eval.tsv",
                    ["epoch", "step", "eval_loss", "eval_acc", "eval_auc", "eval_balanced_acc"], evals)
    io.write_json(out / "plots" / "confusion.json",
               plots.confusion_rows(np.asarray(test.y), test_logits.argmax(axis=1), meta["label_names"]))
    plots.loss_curve_svg(out / "loss_curve.svg", train_rows, evals,
                         f"centralized {dataset} ({meta['data_source']}, {cfg.model.arch})")
    metrics = {
        "test": test_metrics, "val": val_metrics, "dataset": dataset, "data_source": meta["data_source"],
        "device": device, "epochs": c.epochs, "best_epoch": best_epoch, "train_loss": result["train_loss"],
        "num_train_examples": len(train), "num_parameters": int(model.num_parameters()),
        "model_arch": cfg.model.arch, "image_size": meta["image_size"], "seed": cfg.seed,
    }
    io.write_json(out / "metrics.json", metrics)
    io.write_json(out / "timing.json", {"seconds": round(result["seconds"], 3), "device": device,
                                     "examples_per_second": round(result["examples_per_second"], 1)})
    log.info("centralized %s: test acc %.4f auc %.4f balanced acc %.4f (best epoch %d of %d, %.0f train images/s)",
             dataset, test_metrics["acc"], test_metrics["auc"], test_metrics["balanced_acc"], best_epoch,
             c.epochs, result["examples_per_second"])
    return metrics
