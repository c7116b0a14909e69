"""ArrayDataset: per-item and per-batch reads agree, and a DataLoader yields ready batch dicts."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from fedforge.train.data import ArrayDataset, collate_batch, iterate_batches


def test_item_and_batch_reads_agree(tiny_arrays, tmp_path):
    x, y = tiny_arrays
    np.save(tmp_path / "x.npy", x)
    ds = ArrayDataset(np.load(tmp_path / "x.npy", mmap_mode="r"), y)
    batch = ds.__getitems__([5, 2, 9])
    assert batch["pixel_values"].dtype == torch.float32 and batch["labels"].dtype == torch.int64
    stacked = collate_batch([ds[5], ds[2], ds[9]])
    assert torch.equal(batch["pixel_values"], stacked["pixel_values"])
    assert batch["labels"].tolist() == [y[5], y[2], y[9]]


def test_dataloader_uses_batch_reads(tiny_arrays):
    ds = ArrayDataset(*tiny_arrays)
    batches = list(DataLoader(ds, batch_size=40, collate_fn=collate_batch))
    assert [len(b["labels"]) for b in batches] == [40, 40, 16]
    assert batches[0]["pixel_values"].shape == (40, 3, 28, 28)
    ordered = list(iterate_batches(ds, 40))
    assert all(torch.equal(a["pixel_values"], b["pixel_values"]) for a, b in zip(batches, ordered))


def test_mismatched_or_flat_arrays_are_rejected(tiny_arrays):
    x, y = tiny_arrays
    with pytest.raises(ValueError, match="pairs"):
        ArrayDataset(x, y[:-1])
    with pytest.raises(ValueError, match="N×C×H×W"):
        ArrayDataset(x.reshape(len(x), -1), y)
