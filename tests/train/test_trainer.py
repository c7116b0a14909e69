"""training_arguments / fit / evaluate: the Trainer path learns, saves nothing unasked, and is deterministic."""
from __future__ import annotations

import torch
from transformers import Trainer

from fedforge.models.factory import build_model
from fedforge.train.data import ArrayDataset
from fedforge.train.trainer import evaluate, fit, training_arguments

NAMES = ["a", "b", "c"]


def _train(cfg, arrays, out_dir, **kwargs):
    model = build_model(cfg.model, 3, NAMES, 28, seed=cfg.seed)
    args = training_arguments(out_dir, epochs=3, batch_size=32, lr=3e-3, weight_decay=0.0, seed=cfg.seed,
                              device="cpu", disable_tqdm=True, logging_steps=1)
    return model, fit(model, ArrayDataset(*arrays), args, **kwargs)


def test_fit_learns_and_writes_nothing(tiny_cfg, tiny_arrays, tmp_path):
    ds = ArrayDataset(*tiny_arrays)
    before = evaluate(build_model(tiny_cfg.model, 3, NAMES, 28, seed=tiny_cfg.seed), ds, batch_size=64, device="cpu")
    model, result = _train(tiny_cfg, tiny_arrays, tmp_path / "out")
    after = evaluate(model, ds, batch_size=64, device="cpu")
    assert set(after) == {"acc", "auc", "balanced_acc", "loss"}
    assert result["num_examples"] == 96 and result["global_step"] == 9
    assert after["loss"] < before["loss"]
    losses = [r["loss"] for r in result["log_history"] if "loss" in r]
    assert len(losses) == 9 and losses[-1] < losses[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_fit_is_deterministic(tiny_cfg, tiny_arrays, tmp_path):
    a, ra = _train(tiny_cfg, tiny_arrays, tmp_path / "a")
    b, rb = _train(tiny_cfg, tiny_arrays, tmp_path / "b")
    assert ra["train_loss"] == rb["train_loss"]
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_trainer_subclass_is_used(tiny_cfg, tiny_arrays, tmp_path):
    """FedProx plugs in through trainer_cls; its compute_loss must be the one that runs."""
    calls = []

    class CountingTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            calls.append(len(inputs["labels"]))
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    _train(tiny_cfg, tiny_arrays, tmp_path / "c", trainer_cls=CountingTrainer)
    assert calls == [32, 32, 32] * 3
