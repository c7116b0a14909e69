"""Training throughput: the Trainer path (fedforge.train.trainer.fit) vs a minimal hand-written PyTorch loop.

Same model (params.yaml `model:`), batch size (`centralized.batch_size`), optimizer (fused AdamW, lr,
weight decay), data (memory-mapped float32 arrays at data.image_size) and thread count, measured in one
run with the two paths interleaved so machine noise hits both alike. Prints images/s of each and the ratio
(goal >= 0.9), plus the default model's images/s (goal >= 1,000 at 28 px on 2 cores).

    python benchmarks/trainer_vs_torch.py [--images 4096] [--repeats 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

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


def torch_loop(model, ds: ArrayDataset, batch_size: int, lr: float, weight_decay: float, seed: int) -> float:
    """One epoch of the plainest loop: shuffled index batches, forward, backward, AdamW step. Returns seconds."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed)).numpy()
    model.train()
    start = time.perf_counter()
    for i in range(0, len(order), batch_size):
        batch = ds.__getitems__(order[i:i + batch_size])
        loss = model(pixel_values=batch["pixel_values"], labels=batch["labels"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def trainer_path(model, ds: ArrayDataset, batch_size: int, lr: float, weight_decay: float, seed: int) -> float:
    """One epoch through fit() with the project's TrainingArguments. Returns seconds of trainer.train()."""
    with tempfile.TemporaryDirectory() as out:
        args = training_arguments(out, epochs=1, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                                  seed=seed, device="cpu", disable_tqdm=True, logging_steps=10)
        return fit(model, ds, args)["seconds"]


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
        seconds: dict[str, list[float]] = {k: [] for k in paths}
        for rep in range(a.repeats + 1):  # rep 0 warms up allocator, kernels and page cache
            for name, run in paths.items():
                model = build_model(cfg.model, classes, names, size, cfg.seed)
                took = run(model, ds, c.batch_size, c.lr, c.weight_decay, cfg.seed)
                if rep:
                    seconds[name].append(took)
                print(f"{'warm-up' if rep == 0 else f'repeat {rep}'} {name:8s} {a.images / took:8.0f} images/s", flush=True)
    rate = {k: a.images / statistics.median(v) for k, v in seconds.items()}
    print(f"\nmodel {cfg.model.arch} {list(cfg.model.hidden_sizes)} norm={cfg.model.norm}, {size} px, "
          f"batch {c.batch_size}, {a.threads} threads, {a.images} images x {a.repeats} repeats (median)")
    print(f"hand-written torch loop : {rate['torch']:8.0f} images/s")
    print(f"Trainer path (fit)      : {rate['trainer']:8.0f} images/s   (goal >= 1,000 at 28 px on 2 cores)")
    print(f"ratio Trainer / torch   : {rate['trainer'] / rate['torch']:8.3f}          (goal >= 0.9)")


if __name__ == "__main__":
    main()
