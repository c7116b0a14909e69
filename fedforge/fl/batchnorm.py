"""BatchNorm in a federation: which state is BatchNorm, a hospital's own copy of it (FedBN), and re-estimated
global statistics.

phases.<X>.bn (params.yaml):
  global        BatchNorm travels with the weights; running statistics are the plain weighted mean of the
                replies and counters keep the global value (fl/strategies.py: never through a server optimizer).
  local         FedBN (Li et al., ICLR 2021): each hospital keeps its BatchNorm weights, biases, running
                statistics and counters. They never leave it: train replies carry every other array only, and
                the server fills the gaps with its own (unused) BatchNorm values so every strategy sees one
                full state_dict. A hospital's copy is saved after each round it trains, on its own disk
                (artifacts/checkpoints/<phase>/clients/client_<i>/round_<r>.safetensors), because Flower's
                context.state does not outlive a run; the server says which round's copy to use
                ("bn-rounds": the last round each hospital trained in, from the checkpoint's rows), so a killed
                and resumed phase continues from exactly the copy the checkpoint's round left.
  recalibrated  global BatchNorm whose running statistics are re-estimated after every aggregation: each
                hospital runs the new global weights over its training images (forward only, BatchNorm in
                training mode, cumulative average over batches, as torch.optim.swa_utils.update_bn does) and
                sends the per-layer means and variances; the server's batch-weighted mean of them is what
                update_bn over the union of the hospitals' batches gives. Averaged running statistics describe
                each hospital's *local* model, not the averaged one. The pass covers at most the images one
                round of local training sees (local_steps x batch_size when local_steps caps the round), in
                batches of a seeded shuffle: a hospital's split is stored class by class, so in-order batches
                would describe a few classes only (PathMNIST, local_steps 100: test ACC 0.786 in order, 0.795
                shuffled, vs 0.796 for averaged statistics, all at lr ~0, 2026-12-01).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from flwr.app import Array, ArrayRecord
from safetensors.torch import load_file, save_file

from fedforge import io, paths

BN_STATE_SUFFIX = ".safetensors"
RUNNING_STAT_NAMES = ("running_mean", "running_var")  # float BatchNorm buffers: plain weighted mean
COUNTER_NAME = "num_batches_tracked"  # integer BatchNorm counter: never averaged


def is_running_stat(key: str) -> bool:
    """True for a BatchNorm running mean/variance in a state_dict key."""
    return key.rsplit(".", 1)[-1] in RUNNING_STAT_NAMES


def is_counter(key: str) -> bool:
    """True for a BatchNorm num_batches_tracked counter in a state_dict key."""
    return key.rsplit(".", 1)[-1] == COUNTER_NAME


def batchnorm_keys(model: torch.nn.Module) -> list[str]:
    """state_dict keys of every BatchNorm layer: weight, bias, running_mean, running_var, num_batches_tracked."""
    return [f"{name}.{key}" for name, module in model.named_modules()
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
            for key in module.state_dict()]


def without_keys(arrays: ArrayRecord, keys: list[str]) -> ArrayRecord:
    """The ArrayRecord minus `keys` (a bn: local train reply: BatchNorm stays at the hospital)."""
    drop = set(keys)
    return ArrayRecord({key: arrays[key] for key in arrays if key not in drop})


def completed(arrays: ArrayRecord, source: ArrayRecord) -> ArrayRecord:
    """`arrays` with the keys it lacks taken from `source`, in `source`'s order (the server's view of a bn: local
    reply or aggregate: BatchNorm stayed at the hospitals)."""
    return ArrayRecord({key: arrays[key] if key in arrays else source[key] for key in source})


# -- a hospital's own BatchNorm (bn: local) -------------------------------------------------------------------
def local_state_dir(repo_root: Path, phase: str, partition_id: int) -> Path:
    """Where one hospital keeps its BatchNorm copies of one phase (inside the phase's persisted checkpoints)."""
    return Path(repo_root) / paths.checkpoint_dir(phase) / "clients" / paths.client_id(partition_id)


def save_local(model: torch.nn.Module, folder: Path, server_round: int) -> None:
    """Save the model's BatchNorm state as this hospital's copy after `server_round`; drop older copies."""
    keys = set(batchnorm_keys(model))
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k in keys}
    target = folder / f"round_{server_round}{BN_STATE_SUFFIX}"
    with io.atomic_file(target) as tmp:
        save_file(state, str(tmp))
    for old in folder.glob(f"round_*{BN_STATE_SUFFIX}"):
        if _round_of(old) < server_round - 1:  # the previous copy stays: a resume may go back one round
            old.unlink(missing_ok=True)


def load_local(model: torch.nn.Module, folder: Path, server_round: int) -> None:
    """Put this hospital's BatchNorm copy of `server_round` into the model (0 = none yet: keep the global one)."""
    if server_round == 0:
        return
    path = folder / f"round_{server_round}{BN_STATE_SUFFIX}"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: this hospital's BatchNorm copy of round {server_round} "
                                f"(bn: local) is gone; delete {folder.parent.parent} to restart the phase")
    model.load_state_dict(load_file(str(path)), strict=False)


def _round_of(path: Path) -> int:
    return int(path.name.removeprefix("round_").removesuffix(BN_STATE_SUFFIX))


# -- re-estimated global statistics (bn: recalibrated) --------------------------------------------------------
def shuffled_order(size: int, seed: int) -> np.ndarray:
    """The image order of a statistics pass: a permutation of range(size) drawn from `seed`."""
    return np.random.default_rng(seed).permutation(size)


@torch.no_grad()
def estimate_statistics(model: torch.nn.Module, dataset, order: np.ndarray, batch_size: int, device: str,
                        max_batches: int = 0) -> tuple[ArrayRecord, int]:
    """BatchNorm running mean/var of `model` re-estimated on `dataset` (update_bn's cumulative average over
    batches of consecutive `order` indices; the first `max_batches` only if > 0) -> (statistics, batches)."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.training) for m in layers]
    was_training = model.training
    model.to(device).eval()
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts the same
        m.train()
    batches = 0
    for start in range(0, len(order), batch_size):
        rows = np.sort(order[start:start + batch_size])  # sorted: memory-mapped reads stay sequential
        model(pixel_values=dataset.__getitems__(rows)["pixel_values"].to(device))
        batches += 1
        if batches == max_batches:
            break
    for m, (momentum, training) in zip(layers, saved, strict=True):
        m.momentum = momentum
        m.train(training)
    model.train(was_training)
    stats = {k: v.detach().cpu() for k, v in model.state_dict().items() if is_running_stat(k)}
    return ArrayRecord(stats), batches


def pooled_statistics(replies: list[tuple[ArrayRecord, int]]) -> dict[str, Array]:
    """Batch-weighted mean of the hospitals' re-estimated statistics (= update_bn over all their batches)."""
    total = sum(batches for _, batches in replies)
    keys = list(replies[0][0].keys())
    return {key: Array(np.asarray(sum(arrays[key].numpy().astype(np.float64) * batches
                                      for arrays, batches in replies) / total,
                                  dtype=replies[0][0][key].numpy().dtype))
            for key in keys}
