"""Torch datasets over the preprocessed (memory-mapped) arrays, with batch-level reads.

Why batch-level: a Dataset that builds one dict per image and a collator that stacks them costs more
Python time per batch than the small CNN's forward pass. `ArrayDataset.__getitems__` (which torch's
DataLoader calls with the whole list of a batch's indices) reads the batch with one fancy index, and
`collate_batch` passes that ready dict straight through.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class ArrayDataset(Dataset):
    """x float32 N×C×H×W and y int64 (N,) -> {"pixel_values", "labels"} per item or per batch."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        if len(x) != len(y):
            raise ValueError(f"ArrayDataset: {len(x)} images but {len(y)} labels; the arrays must come in pairs")
        if x.ndim != 4:
            raise ValueError(f"ArrayDataset: images must be N×C×H×W, got shape {x.shape}")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"pixel_values": torch.from_numpy(np.array(self.x[i], dtype=np.float32)),
                "labels": torch.as_tensor(int(self.y[i]), dtype=torch.long)}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = np.asarray(indices, dtype=np.int64)
        return {"pixel_values": torch.from_numpy(np.ascontiguousarray(self.x[idx], dtype=np.float32)),
                "labels": torch.from_numpy(np.asarray(self.y[idx], dtype=np.int64))}


def collate_batch(batch: dict | list[dict]) -> dict[str, torch.Tensor]:
    """Pass a batch dict from __getitems__ through; stack a list of item dicts (plain Datasets) otherwise."""
    if isinstance(batch, dict):
        return batch
    return {key: torch.stack([item[key] for item in batch]) for key in batch[0]}


def iterate_batches(ds: ArrayDataset, batch_size: int):
    """In-order batches (for evaluation), read with slices rather than indices."""
    for start in range(0, len(ds), batch_size):
        stop = min(start + batch_size, len(ds))
        yield {"pixel_values": torch.from_numpy(np.array(ds.x[start:stop], dtype=np.float32)),  # a writable copy
               "labels": torch.from_numpy(np.array(ds.y[start:stop], dtype=np.int64))}
