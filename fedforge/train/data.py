"""Torch datasets over the preprocessed (memory-mapped) arrays, with batch-level reads.

Why batch-level: a Dataset that builds one dict per image and a collator that stacks them costs more
Python time per batch than the small CNN's forward pass. `ArrayDataset.__getitems__` (which torch's
DataLoader calls with the whole list of a batch's indices) reads the batch with one fancy index, and
`collate_batch` passes that ready dict straight through.

`augment: dihedral` (centralized.augment, phases.<X>.augment) trains on `Dihedral(train_ds)`: each read turns
every image by a random one of the 8 symmetries of the square (quarter turns, each with or without a mirror).
Blood cells, skin lesions and tissue patches have no "up", so the label never changes; evaluation reads the
plain dataset.
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


def dihedral(pixel_values: torch.Tensor) -> torch.Tensor:
    """Each image of an N x C x H x W batch (H == W) mirrored with probability 1/2, then turned by a random
    number of quarter turns. Draws from torch's global generator, which the Trainer seeds."""
    turns = torch.randint(0, 4, (len(pixel_values),))
    mirrored = torch.randint(0, 2, (len(pixel_values),), dtype=torch.bool)
    out = torch.where(mirrored.view(-1, 1, 1, 1), pixel_values.flip(-1), pixel_values)
    for k in (1, 2, 3):
        out[turns == k] = torch.rot90(out[turns == k], k, dims=(-2, -1))
    return out


class Dihedral(Dataset):
    """The training view of an ArrayDataset for `augment: dihedral`: same labels (`y`), images randomly turned."""

    def __init__(self, ds: ArrayDataset):
        self.ds, self.y = ds, ds.y

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.ds[i]
        return item | {"pixel_values": dihedral(item["pixel_values"][None])[0]}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        batch = self.ds.__getitems__(indices)
        return batch | {"pixel_values": dihedral(batch["pixel_values"])}


def training_view(ds: ArrayDataset, augment: str) -> Dataset:
    """What the Trainer trains on: `ds` itself (augment: none) or its Dihedral view."""
    return Dihedral(ds) if augment == "dihedral" else ds


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
