"""Client- and server-side ML for the federated phases: data, model, local training (HF Trainer), evaluation.

Flower quickstart style: the app files stay thin and call these plain functions. Training runs through
CENTRAL's fedforge.train.trainer (transformers.Trainer); FedProx plugs in ProximalTrainer, which adds
mu/2 * ||w - w_global||^2 to the loss because Flower's FedProx only *sends* proximal-mu.
"""
from __future__ import annotations

import gc
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from flwr.app import ArrayRecord
from transformers import PreTrainedModel, Trainer, TrainerCallback

from fedforge import paths
from fedforge.config import Config, PhaseConfig, phase_model
from fedforge.data.arrays import load_split, read_meta
from fedforge.errors import MissingInputError
from fedforge.models.factory import build_model, load_model
from fedforge.train import trainer as central_trainer
from fedforge.train.data import ArrayDataset
from fedforge.train.metrics import METRIC_KEYS

log = logging.getLogger(__name__)

# Trainer.train() starts with a full gc.collect() (accelerate's free_memory) that scans every live object:
# after torch + transformers + flwr are imported that is ~600k of them, 0.3-0.9 s per client per round, most
# of the local engine's fixed per-client cost (benchmarks/scaling.py). What is alive now (modules, classes,
# functions) is never garbage, so the collector stops scanning it; objects created later are collected as usual.
gc.freeze()


def client_seed(seed: int, server_round: int, partition_id: int) -> int:
    """Training seed of one client in one round, derived (never drawn) so a resumed run repeats it."""
    return (int(seed) * 1_000_003 + int(server_round) * 7_919 + int(partition_id) * 104_729) % (2**31 - 1)


def client_data(repo_root: Path, dataset: str, partition_id: int) -> tuple[ArrayDataset, ArrayDataset]:
    """(train, val) datasets of one hospital from artifacts/preprocessed/<ds>/clients, memory-mapped."""
    folder = Path(repo_root) / paths.preprocessed_clients_dir(dataset)
    name = paths.client_id(partition_id)
    if not (folder / f"{name}_train_x.npy").is_file():
        raise MissingInputError(
            f"{folder}/{name}_train_x.npy missing: run `dvc repro preprocess@{dataset}` (or check "
            f"node_config partition-id={partition_id} against partition.num_clients)")
    return ArrayDataset(*load_split(folder, f"{name}_train")), ArrayDataset(*load_split(folder, f"{name}_val"))


def client_summary(repo_root: Path, dataset: str, partition_id: int) -> dict:
    """Training-set size and label histogram of one client (for run_started and the dashboard)."""
    meta = read_meta(Path(repo_root) / paths.preprocessed_clients_dir(dataset))
    name = paths.client_id(partition_id)
    return {"size": int(meta["sizes"][name]["train"]),
            "label_histogram": [int(v) for v in meta["label_histograms"][name]["train"]]}


def central_split(repo_root: Path, dataset: str, split: str) -> ArrayDataset:
    """The shared val or test split the server evaluates the global model on."""
    return ArrayDataset(*load_split(Path(repo_root) / paths.preprocessed_central_dir(dataset), split))


def new_model(cfg: Config, repo_root: Path, dataset: str, phase: PhaseConfig | None = None) -> PreTrainedModel:
    """A model with the phase's architecture (its `norm` override too), built offline from params (seeded)."""
    meta = read_meta(Path(repo_root) / paths.preprocessed_central_dir(dataset))
    return build_model(phase_model(cfg.model, phase) if phase else cfg.model, num_labels=int(meta["num_classes"]), label_names=list(meta["label_names"]),
                       image_size=int(meta["image_size"]), seed=cfg.seed)


_client_models: dict[tuple, PreTrainedModel] = {}  # the one model client_model() reuses, by what it was built from


def client_model(cfg: Config, repo_root: Path, dataset: str, phase: PhaseConfig | None = None) -> PreTrainedModel:
    """The model a ClientApp loads the global arrays into: built once per process and reused, since
    set_arrays overwrites every parameter and buffer (building one is ~0.08 s, twice per client per round)."""
    key = (cfg.model_dump_json(), str(repo_root), dataset, phase.norm if phase else "model")
    if key not in _client_models:
        _client_models.clear()
        _client_models[key] = new_model(cfg, repo_root, dataset, phase)
    model = _client_models[key]
    model.zero_grad(set_to_none=True)
    return model


def initial_model(cfg: Config, phase: PhaseConfig, repo_root: Path) -> PreTrainedModel:
    """Round-0 global model: the centralized checkpoint of this dataset (warm start) or a fresh one."""
    if phase.warm_start == "centralized":
        model_dir = Path(repo_root) / paths.centralized_dir(phase.dataset) / "model"
        if not model_dir.is_dir():
            raise MissingInputError(f"{model_dir} missing: warm_start=centralized needs "
                                    f"`dvc repro centralized@{phase.dataset}` first (or set warm_start: scratch)")
        return load_model(model_dir)
    return new_model(cfg, repo_root, phase.dataset, phase)


def get_arrays(model: torch.nn.Module) -> ArrayRecord:
    """The model's full state (weights and BatchNorm buffers) as a Flower ArrayRecord."""
    return ArrayRecord(model.state_dict())


_NPY_V1 = b"\x93NUMPY\x01\x00"


def array_numpy(array) -> np.ndarray:
    """Array.numpy() without np.load: flwr 1.42 keeps an Array's data as .npy bytes (np.save), and np.load parses
    the header with ast.literal_eval, ~0.2 ms per array. A C-order version-1 .npy is a 10-byte preamble, the
    header and the raw data, read here from the Array's own dtype and shape (a writable copy, as np.load gives)."""
    data = array.data
    if array.stype != "numpy.ndarray" or data[:8] != _NPY_V1:
        return array.numpy()
    start = 10 + int.from_bytes(data[8:10], "little")
    if b"'fortran_order': False" not in data[10:start]:
        return array.numpy()
    return np.frombuffer(data, dtype=np.dtype(array.dtype), offset=start).reshape(array.shape).copy()


def set_arrays(model: torch.nn.Module, arrays: ArrayRecord) -> None:
    """Load an ArrayRecord into the model; averaged integer buffers are cast back to their dtype."""
    model.load_state_dict({key: torch.from_numpy(array_numpy(array)) for key, array in arrays.items()}, strict=True)


class ProximalTrainer(Trainer):
    """transformers.Trainer whose loss adds the FedProx term mu/2 * ||w - w_global||^2."""

    def __init__(self, *args, proximal_mu: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.proximal_mu = float(proximal_mu)
        # Snapshot taken after the global weights were loaded and before any local step.
        self.global_params = [p.detach().clone() for p in self.model.parameters()]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        loss, outputs = out if return_outputs else (out, None)
        if self.proximal_mu > 0:
            prox = sum(((p - g) ** 2).sum() for p, g in zip(model.parameters(), self.global_params))
            loss = loss + self.proximal_mu / 2 * prox
        return (loss, outputs) if return_outputs else loss


class LoopTimer(TrainerCallback):
    """Wall and CPU seconds inside Trainer's training loop (on_train_begin -> on_train_end): a client's compute."""

    seconds = cpu_seconds = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started, self.cpu_started = time.perf_counter(), time.process_time()

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds = time.perf_counter() - self.started
        self.cpu_seconds = time.process_time() - self.cpu_started


def train_local(model: PreTrainedModel, train_ds, *, epochs: int, batch_size: int, lr: float,
                weight_decay: float, seed: int, device: str, loss: str, focal_gamma: float, augment: str,
                proximal_mu: float = 0.0, steps: int = 0, dp_sgd: dict | None = None) -> dict:
    """Local training of one client with the HF Trainer -> {train_loss, num_examples, seconds}.

    seconds = the training loop only (LoopTimer): Trainer construction and set-up count as federation overhead.
    steps > 0 caps the round at that many optimizer steps (Trainer max_steps) instead of `epochs`.
    `loss` (phases.<X>.loss) weighs classes by this client's own label histogram only (train/losses.py);
    `augment` (phases.<X>.augment) is none or dihedral (train/data.py).
    dp_sgd = {noise_multiplier, max_grad_norm, noise_stream}: DP-SGD (fedforge/train/dp_sgd.py); the result
    then has "dp", the round's ledger entry for the server's accountant.
    """
    timer = LoopTimer()
    with tempfile.TemporaryDirectory(prefix="fedforge-client-") as tmp:
        args = central_trainer.training_arguments(tmp, epochs=epochs, batch_size=batch_size, lr=lr,
                                                  weight_decay=weight_decay, seed=seed, device=device,
                                                  **({"max_steps": steps} if steps > 0 else {}),
                                                  **({"max_grad_norm": 0.0} if dp_sgd else {}))
        extra = {"trainer_cls": ProximalTrainer, "proximal_mu": proximal_mu} if proximal_mu > 0 else {}
        if dp_sgd:
            from fedforge.train import dp_sgd as dp  # imports opacus: only DP-SGD phases pay for it

            extra = {"trainer_cls": dp.DpSgdTrainer, **dp_sgd}
        result = central_trainer.fit(model, train_ds, args, loss=loss, focal_gamma=focal_gamma,
                                     augment=augment, callbacks=[timer],
                                     **extra)
    out = {"train_loss": float(result["train_loss"]), "num_examples": len(train_ds), "seconds": timer.seconds,
           "cpu_seconds": timer.cpu_seconds}
    if dp_sgd:
        out["dp"] = dp.ledger_entry(dp_sgd["noise_multiplier"], batch_size, len(train_ds), result["global_step"])
    return out


def evaluate(model: PreTrainedModel, ds, *, batch_size: int, device: str) -> dict:
    """Classification metrics (acc, auc, balanced_acc, loss) of the model on a dataset."""
    start, cpu_start = time.perf_counter(), time.process_time()
    metrics = central_trainer.evaluate(model, ds, batch_size=batch_size, device=device)
    out = {k: float(metrics[k]) for k in METRIC_KEYS}
    out["num_examples"] = len(ds)
    out["seconds"] = time.perf_counter() - start
    out["cpu_seconds"] = time.process_time() - cpu_start
    return out


def l2_distance(a: ArrayRecord, b: ArrayRecord) -> float:
    """Euclidean distance between two float ArrayRecords (tests: FedProx keeps clients nearer the global)."""
    return float(np.sqrt(sum(float(((a[k].numpy().astype(np.float64) - b[k].numpy()) ** 2).sum())
                             for k in a if a[k].numpy().dtype.kind == "f")))
