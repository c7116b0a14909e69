"""Client-side ML helpers: derived seeds, local step cap, arrays round trip."""
from __future__ import annotations

import numpy as np

from fedforge.fl import task
from tests.fl.conftest import tiny_config


def test_client_seeds_are_derived_not_drawn():
    seeds = {task.client_seed(42, r, p) for r in range(1, 20) for p in range(5)}
    assert len(seeds) == 95 and task.client_seed(42, 3, 1) == task.client_seed(42, 3, 1)


def test_local_steps_cap_the_round(tiny_repo, monkeypatch):
    seen = {}
    original = task.central_trainer.fit

    def spy(model, ds, args, **kw):
        seen["max_steps"], seen["epochs"] = args.max_steps, args.num_train_epochs
        return original(model, ds, args, **kw)

    monkeypatch.setattr(task.central_trainer, "fit", spy)
    cfg = tiny_config()
    model = task.new_model(cfg, tiny_repo, "bloodmnist")
    train_ds, _ = task.client_data(tiny_repo, "bloodmnist", 0)
    task.train_local(model, train_ds, epochs=1, steps=2, batch_size=8, lr=0.01, weight_decay=0.0, seed=1, device="cpu",
                     loss="ce", focal_gamma=0.0, augment="none")
    assert seen["max_steps"] == 2
    task.train_local(model, train_ds, epochs=1, steps=0, batch_size=8, lr=0.01, weight_decay=0.0, seed=1, device="cpu",
                     loss="ce", focal_gamma=0.0, augment="none")
    assert seen["max_steps"] <= 0 and seen["epochs"] == 1


def test_arrays_round_trip_through_a_model(tiny_repo):
    cfg = tiny_config()
    a, b = task.new_model(cfg, tiny_repo, "bloodmnist"), task.new_model(cfg, tiny_repo, "bloodmnist")
    arrays = task.get_arrays(a)
    for v in arrays.values():
        v.numpy()  # all convertible
    shifted = {k: np.asarray(v.numpy() + 1.0) for k, v in arrays.items()}
    from flwr.app import Array, ArrayRecord
    task.set_arrays(b, ArrayRecord({k: Array(v) for k, v in shifted.items()}))
    assert task.l2_distance(task.get_arrays(b), arrays) > 0
    for k, v in task.get_arrays(b).items():
        np.testing.assert_allclose(v.numpy(), shifted[k], rtol=1e-6)


def test_array_numpy_reads_what_array_numpy_method_reads():
    """The fast .npy read gives Array.numpy()'s dtype, shape and bytes, writable, for every tensor kind we send."""
    import torch
    from flwr.app import ArrayRecord

    from fedforge.fl.task import array_numpy

    tensors = {"float": torch.randn(3, 4), "int64": torch.tensor([7, 8], dtype=torch.int64),
               "scalar": torch.tensor(5), "transposed": torch.randn(4, 3).t()}
    record = ArrayRecord(tensors)
    got = {key: array_numpy(record[key]) for key in record}
    want = {key: record[key].numpy() for key in record}
    assert {k: (v.dtype, v.shape, v.tobytes()) for k, v in got.items()} == \
        {k: (v.dtype, v.shape, v.tobytes()) for k, v in want.items()}
    assert all(v.flags.writeable for v in got.values())
