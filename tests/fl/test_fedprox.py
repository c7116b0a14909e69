"""FedProx: the strategy sends proximal-mu to every client, and the client's Trainer really applies it."""
from __future__ import annotations

import copy

import pytest
import torch

from fedforge import config
from fedforge.fl import appconfig, engine, task
from fedforge.fl.grid import InProcessGrid
from tests.fl.conftest import tiny_config, tiny_raw


def test_proximal_mu_reaches_the_clients(tiny_repo, monkeypatch):
    seen = []
    original = InProcessGrid.push_messages

    def spy(self, messages):
        messages = list(messages)
        seen.extend(float(m.content["config"]["proximal-mu"]) for m in messages
                    if m.metadata.message_type == "train")
        return original(self, messages)

    monkeypatch.setattr(InProcessGrid, "push_messages", spy)
    cfg = tiny_config(strategy="fedprox", proximal_mu=0.25, rounds=1)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=tiny_repo))
    assert seen == [0.25, 0.25]


def test_proximal_term_is_added_to_the_loss(tiny_repo):
    cfg = tiny_config()
    model = task.new_model(cfg, tiny_repo, "bloodmnist")
    train_ds, _ = task.client_data(tiny_repo, "bloodmnist", 0)
    args = task.central_trainer.training_arguments(tiny_repo / "tmp", epochs=1, batch_size=8, lr=0.01,
                                                   weight_decay=0.0, seed=1, device="cpu")
    trainer = task.ProximalTrainer(model=model, args=args, train_dataset=train_ds, proximal_mu=2.0)
    batch = train_ds.__getitems__(list(range(8)))
    base = trainer.compute_loss(model, dict(batch))
    plain = task.Trainer.compute_loss(trainer, model, dict(batch))
    assert base.item() == pytest.approx(plain.item())  # w == w_global: the term is zero
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    moved = trainer.compute_loss(model, dict(batch))
    plain = task.Trainer.compute_loss(trainer, model, dict(batch))
    squared = sum(p.numel() for p in model.parameters()) * 0.01 ** 2
    assert (moved - plain).item() == pytest.approx(2.0 / 2 * squared, rel=1e-3)


def test_proximal_term_keeps_local_weights_near_the_global_model(tiny_repo):
    cfg = tiny_config()
    train_ds, _ = task.client_data(tiny_repo, "bloodmnist", 0)
    start = task.new_model(cfg, tiny_repo, "bloodmnist")
    global_arrays = task.get_arrays(start)
    runs = {}
    for mu in (0.0, 5.0):
        model = copy.deepcopy(start)
        result = task.train_local(model, train_ds, epochs=3, batch_size=8, lr=0.05, weight_decay=0.0, seed=3,
                                  device="cpu", proximal_mu=mu, loss="ce", focal_gamma=0.0, augment="none")
        runs[mu] = (result["train_loss"], task.l2_distance(task.get_arrays(model), global_arrays))
    assert runs[5.0][0] != runs[0.0][0]          # the loss the Trainer optimised is different
    assert runs[5.0][1] < runs[0.0][1] * 0.9      # and the client drifted less from the global model


def test_client_app_passes_mu_from_the_message(tiny_repo, monkeypatch):
    received = {}

    def fake_train_local(model, ds, **kwargs):
        received.update(kwargs)
        return {"train_loss": 1.0, "num_examples": len(ds), "seconds": 0.0, "cpu_seconds": 0.0}

    monkeypatch.setattr(task, "train_local", fake_train_local)
    raw = tiny_raw(strategy="fedprox", proximal_mu=0.5, rounds=1)
    raw["federation"]["workers"] = 1  # the fake records in this process
    cfg = config.parse(raw)
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=tiny_repo))
    assert received["proximal_mu"] == 0.5
