"""Training throughput: the Trainer path (fedforge.train.trainer.fit) vs a minimal hand-written PyTorch loop.

Same model (params.yaml `model:`), batch size (`centralized.batch_size`), optimizer (fused AdamW, lr,
weight decay), data (memory-mapped float32 arrays at data.image_size) and thread count, measured in one
run with the two paths interleaved so machine noise hits both alike. Prints images/s of each and the ratio
(goal >= 0.9), plus the default model's images/s (goal >= 1,000 at 28 px on 2 cores). Both are measured
over the training loop only (Trainer: on_train_begin..on_train_end), in wall-clock time and in this
process's CPU time; on a shared machine the CPU-time ratio is the steadier measure of Trainer overhead.

    python benchmarks/trainer_vs_torch.py [--images 4096] [--repeats 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from transformers import TrainerCallback

from fedforge import config  # fedforge.train (imported next) sets OMP_WAIT_POLICY before torch loads OpenMP
from fedforge.models.factory import build_model
from fedforge.train.data import ArrayDataset
from fedforge.train.trainer import fit, training_arguments


def make_arrays(folder: Path, n: int, size: int, classes: int, seed: int) -> ArrayDataset:
    """Random images/labels saved as .npy and re-opened memory-mapped, like the preprocessed splits."""
    rng = np.random.default_rng(seed)
    np.save(folder / "x.npy", rng.normal(size=(n, 3, size, size)).astype(np.float32))
    np.save(folder / "y.npy", rng.integers(0, classes, n).astype(np.int64))
    return ArrayDataset(np.load(folder / "x.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r"))


def torch_loop(model, ds: ArrayDataset, batch_size: int, lr: float, weight_decay: float,
               seed: int) -> tuple[float, float]:
    """One epoch of the plainest loop: shuffled index batches, forward, backward, AdamW step -> (wall, cpu) s."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed)).numpy()
    model.train()
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(order), batch_size):
        batch = ds.__getitems__(order[i:i + batch_size])
        loss = model(pixel_values=batch["pixel_values"], labels=batch["labels"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start, time.process_time() - cpu


class LoopClock(TrainerCallback):
    """Wall and CPU seconds between on_train_begin and on_train_end (the Trainer's training loop)."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.start, self.cpu = time.perf_counter(), time.process_time()

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds = (time.perf_counter() - self.start, time.process_time() - self.cpu)


def trainer_path(model, ds: ArrayDataset, batch_size: int, lr: float, weight_decay: float,
                 seed: int) -> tuple[float, float]:
    """One epoch through fit() with the project's TrainingArguments -> (wall, cpu) seconds of the loop."""
    clock = LoopClock()
    with tempfile.TemporaryDirectory() as out:
        args = training_arguments(out, epochs=1, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                                  seed=seed, device="cpu", disable_tqdm=True, logging_steps=10)
        fit(model, ds, args, callbacks=[clock])
    return clock.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--images", type=int, default=4096, help="training images per measured epoch")
    parser.add_argument("--repeats", type=int, default=3, help="measured epochs per path (after one warm-up each)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads for both paths")
    a = parser.parse_args()
    import torch
    import transformers

    cfg = config.load(a.params)
    c, size, classes = cfg.centralized, cfg.data.image_size, 8
    torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp:
        ds = make_arrays(Path(tmp), a.images, size, classes, cfg.seed)
        names = [str(i) for i in range(classes)]
        paths = {"trainer": trainer_path, "torch": torch_loop}
        seconds: dict[str, list[tuple[float, float]]] = {k: [] for k in paths}
        for rep in range(a.repeats + 1):  # rep 0 warms up allocator, kernels and page cache
            for name, run in paths.items():
                model = build_model(cfg.model, classes, names, size, cfg.seed)
                wall, cpu = run(model, ds, c.batch_size, c.lr, c.weight_decay, cfg.seed)
                if rep:
                    seconds[name].append((wall, cpu))
                print(f"{'warm-up' if rep == 0 else f'repeat {rep}'} {name:8s} {a.images / wall:8.0f} images/s wall "
                      f"{a.images / cpu:8.0f} images per CPU-second", flush=True)
    wall = {k: a.images / statistics.median(w for w, _ in v) for k, v in seconds.items()}
    cpu = {k: a.images / statistics.median(c for _, c in v) for k, v in seconds.items()}
    print(f"\nmodel {cfg.model.arch} {list(cfg.model.hidden_sizes)}, {size} px, batch {c.batch_size}, "
          f"{a.threads} threads, {a.images} images x {a.repeats} repeats (median)")
    print(f"hand-written torch loop : {wall['torch']:8.0f} images/s   {cpu['torch']:8.0f} images/CPU-s")
    print(f"Trainer path (fit)      : {wall['trainer']:8.0f} images/s   {cpu['trainer']:8.0f} images/CPU-s"
          "   (goal >= 1,000 images/s at 28 px on 2 cores)")
    print(f"ratio Trainer / torch   : {wall['trainer'] / wall['torch']:8.3f} wall       "
          f"{cpu['trainer'] / cpu['torch']:8.3f} CPU time   (goal >= 0.9)")


if __name__ == "__main__":
    main()
