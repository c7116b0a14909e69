"""The Hugging Face Trainer as FedForge uses it, shared by the centralized baseline and every FL client.

`training_arguments` gives side-effect-free, deterministic TrainingArguments (no checkpoints, no reporting,
no worker processes) that callers override per use; `fit` runs one Trainer.train(); `evaluate` scores a
model on a dataset with the metrics of fedforge.train.metrics. FedProx passes its Trainer subclass as
`trainer_cls` (compute_loss plus the proximal term). `loss` (ce | weighted_ce | balanced_softmax | focal, see
fedforge.train.losses) becomes the Trainer's compute_loss_func, with class weights or priors from the label
histogram of `train_ds` itself: for an FL client that is its own partition, never anyone else's.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from transformers import EvalPrediction, PreTrainedModel, Trainer, TrainingArguments

from fedforge.train.data import ArrayDataset, collate_batch, iterate_batches, training_view
from fedforge.train.losses import label_histogram, make_loss
from fedforge.train.metrics import classification_metrics


def training_arguments(output_dir, *, epochs: int, batch_size: int, lr: float, weight_decay: float, seed: int,
                       device: str, **overrides) -> TrainingArguments:
    """TrainingArguments with nothing saved or reported unless an override asks, seeded and deterministic."""
    kwargs = {
        "output_dir": str(output_dir),
        "num_train_epochs": epochs,
        "per_device_train_batch_size": batch_size,
        "per_device_eval_batch_size": batch_size,
        "learning_rate": lr,
        "weight_decay": weight_decay,
        "seed": seed,
        "data_seed": seed,
        # torch.use_deterministic_algorithms (process-wide) on CPU, where it is free; on CUDA some kernels
        # (e.g. transformers ResNet's adaptive pooling backward) have no deterministic version and would raise.
        "full_determinism": device == "cpu",
        "use_cpu": (device == "cpu"),      # cuda / mps: accelerate picks the accelerator itself
        "eval_strategy": "no",
        "save_strategy": "no",
        "report_to": "none",
        "logging_strategy": "steps",
        "logging_steps": 10,
        "dataloader_num_workers": 0,       # batches are one memmap fancy-index away; workers only add IPC
        "dataloader_pin_memory": (device == "cuda"),
        "remove_unused_columns": False,    # our batches are dicts already (see fedforge.train.data)
    }
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def accuracy_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """compute_metrics for Trainer evaluation: acc, auc, balanced_acc (Trainer reports its own eval_loss)."""
    metrics = classification_metrics(prediction.predictions, prediction.label_ids)
    metrics.pop("loss")
    return metrics


def fit(model: PreTrainedModel, train_ds, args: TrainingArguments, *, trainer_cls: type[Trainer] = Trainer,
        callbacks=None, loss: str = "ce", focal_gamma: float = 0.0, augment: str = "none", **trainer_kwargs) -> dict:
    """Train `model` in place with one Trainer.train(); returns train_loss, num_examples, seconds and more.

    loss "ce" keeps the model's own cross-entropy (focal_gamma is then unused). augment "dihedral" trains on
    randomly turned and mirrored images (fedforge.train.data.Dihedral); an eval_dataset is read as it is.
    """
    trainer_kwargs.setdefault("data_collator", collate_batch)
    histogram = label_histogram(train_ds.y, model.config.num_labels) if loss != "ce" else []
    trainer_kwargs["compute_loss_func"] = make_loss(loss, label_histogram=histogram, focal_gamma=focal_gamma)
    trainer = trainer_cls(model=model, args=args, train_dataset=training_view(train_ds, augment), callbacks=callbacks,
                          **trainer_kwargs)
    start = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - start
    return {"train_loss": float(output.training_loss), "num_examples": len(train_ds), "seconds": seconds,
            "examples_per_second": float(output.metrics.get("train_samples_per_second", 0.0)),
            "global_step": int(output.global_step), "log_history": list(trainer.state.log_history),
            "best_model_checkpoint": trainer.state.best_model_checkpoint}


@torch.no_grad()
def predict_logits(model: PreTrainedModel, ds: ArrayDataset, *, batch_size: int, device: str) -> np.ndarray:
    """N×K float32 logits for the dataset, in order, in eval mode (the model stays on `device`)."""
    model.to(device).eval()
    chunks = [model(pixel_values=batch["pixel_values"].to(device)).logits.float().cpu().numpy()
              for batch in iterate_batches(ds, batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, model.config.num_labels), np.float32)


def evaluate(model: PreTrainedModel, ds: ArrayDataset, *, batch_size: int, device: str) -> dict[str, float]:
    """{acc, auc, balanced_acc, loss} of `model` on `ds` (metrics as medmnist.Evaluator defines ACC/AUC)."""
    return classification_metrics(predict_logits(model, ds, batch_size=batch_size, device=device), np.asarray(ds.y))
