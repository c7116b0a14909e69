"""ArrayDataset: per-item and per-batch reads agree, and a DataLoader yields ready batch dicts; the Dihedral
training view (augment: dihedral) turns images by symmetries of the square and leaves labels alone."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from fedforge.train.data import ArrayDataset, Dihedral, collate_batch, dihedral, iterate_batches, training_view


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


def symmetries(image: torch.Tensor) -> list[torch.Tensor]:
    """The 8 images a C x H x W square image becomes under quarter turns, with and without a mirror."""
    return [torch.rot90(m, k, dims=(-2, -1)) for m in (image, image.flip(-1)) for k in range(4)]


def test_dihedral_turns_each_image_by_one_of_the_8_symmetries():
    images = torch.rand(400, 3, 5, 5, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    turned = dihedral(images)
    which = [[torch.equal(t, s) for s in symmetries(image)].index(True) for image, t in zip(images, turned)]
    assert sorted(set(which)) == list(range(8))  # every symmetry is drawn, the identity among them
    assert 25 < which.count(0) < 75               # ~1/8 of 400 left as they were
    torch.manual_seed(0)
    assert torch.equal(dihedral(images), turned)  # seeded by torch's generator (the Trainer seeds it)


def test_dihedral_view_keeps_labels_and_only_training_reads_it(tiny_arrays):
    ds = ArrayDataset(*tiny_arrays)
    assert training_view(ds, "none") is ds
    view = training_view(ds, "dihedral")
    assert isinstance(view, Dihedral) and len(view) == len(ds) and view.y is ds.y
    batch = view.__getitems__([5, 2, 9])
    assert batch["labels"].tolist() == ds.__getitems__([5, 2, 9])["labels"].tolist()
    assert any(torch.equal(batch["pixel_values"][0], s) for s in symmetries(ds[5]["pixel_values"]))
    item = view[7]
    assert item["labels"] == ds[7]["labels"] and any(torch.equal(item["pixel_values"], s)
                                                     for s in symmetries(ds[7]["pixel_values"]))
