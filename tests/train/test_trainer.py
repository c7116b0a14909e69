"""training_arguments / fit / evaluate: the Trainer path learns, saves nothing unasked, and is deterministic."""
from __future__ import annotations

import torch
from transformers import Trainer

from fedforge.models.factory import build_model
from fedforge.train.data import ArrayDataset, Dihedral
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


def test_augment_turns_training_batches_only(tiny_cfg, tiny_arrays, tmp_path):
    """augment: dihedral trains on the Dihedral view (other weights, still deterministic); an eval_dataset is
    left as it is."""
    seen = {}

    class RecordingTrainer(Trainer):
        def get_train_dataloader(self):
            seen["train"], seen["eval"] = self.train_dataset, self.eval_dataset
            return super().get_train_dataloader()

    plain, _ = _train(tiny_cfg, tiny_arrays, tmp_path / "p")
    val = ArrayDataset(*tiny_arrays)
    turned, result = _train(tiny_cfg, tiny_arrays, tmp_path / "t", augment="dihedral", trainer_cls=RecordingTrainer,
                            eval_dataset=val)
    again, _ = _train(tiny_cfg, tiny_arrays, tmp_path / "a", augment="dihedral")
    assert isinstance(seen["train"], Dihedral) and seen["eval"] is val and result["num_examples"] == 96
    weights = [m.state_dict() for m in (plain, turned, again)]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert all(torch.equal(weights[1][k], weights[2][k]) for k in weights[1])
