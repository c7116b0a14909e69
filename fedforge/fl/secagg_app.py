"""Secure aggregation (federation.secure_aggregation: secaggplus): SecAgg+ through flwr 1.42's legacy API.

flwr 1.42 has SecAgg+ (SecAggPlusWorkflow on the server, secaggplus_mod on the client) for the legacy API
only: the mod reads the reply as a legacy FitRes, so a Message-API `@app.train` reply fails in it. This module
is the smallest path: a legacy ServerApp (DefaultWorkflow with SecAggPlusWorkflow as its fit workflow over
Flower's legacy FedAvg) and a legacy ClientApp (a NumPyClient with secaggplus_mod) that call the same task.py
functions as the Message-API apps. The server only ever sees masked, quantised vectors; their sum unmasks to
the weighted sum of the updates. Tolerates hospitals - reconstruction_threshold dropouts (one by default).
Not yet wired: rounds.tsv, checkpoints/resume, telemetry and DP (this app writes model + metrics.json only).
"""
from __future__ import annotations

import numpy as np
from flwr.app import Context
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from fedforge import io, paths
from fedforge.fl import appconfig, task
from fedforge.fl.client_app import _node
from fedforge.fl.flower_compat import (
    MAIN_PARAMS_RECORD,
    DefaultWorkflow,
    LegacyContext,
    LegacyFedAvg,
    NumPyClient,
    SecAggPlusWorkflow,
    ServerConfig,
    ndarrays_to_parameters,
    secaggplus_mod,
)
from fedforge.train.device import runtime_device
from fedforge.train.metrics import METRIC_KEYS


def to_ndarrays(model) -> list[np.ndarray]:
    """The model's state as the legacy API's list of arrays, in state_dict order."""
    return [v.detach().cpu().numpy() for v in model.state_dict().values()]


def load_ndarrays(model, arrays: list[np.ndarray]) -> None:
    """Inverse of to_ndarrays (each array cast back to its tensor's dtype)."""
    import torch

    state = model.state_dict()
    model.load_state_dict({k: torch.as_tensor(np.asarray(a)).to(v.dtype) for (k, v), a in zip(state.items(), arrays,
                                                                                               strict=True)})


class Hospital(NumPyClient):
    """One hospital on the legacy API: local training and evaluation via task.py."""

    def __init__(self, context: Context):
        self.cfg, self.phase, self.root, self.pid, _ = _node(context)
        self.device = runtime_device(self.cfg)

    def _model(self, parameters):
        model = task.new_model(self.cfg, self.root, self.phase.dataset, self.phase)
        load_ndarrays(model, parameters)
        return model

    def fit(self, parameters, config):
        train_ds, _ = task.client_data(self.root, self.phase.dataset, self.pid)
        model, pc = self._model(parameters), self.phase
        result = task.train_local(model, train_ds, epochs=pc.local_epochs, steps=pc.local_steps,
                                  batch_size=pc.batch_size, lr=pc.lr, weight_decay=pc.weight_decay,
                                  loss=pc.loss, focal_gamma=pc.focal_gamma, augment=pc.augment,
                                  seed=task.client_seed(self.cfg.seed, int(config.get("server_round", 0)), self.pid),
                                  device=self.device)
        return to_ndarrays(model), result["num_examples"], {"train_loss": result["train_loss"]}

    def evaluate(self, parameters, config):
        _, val_ds = task.client_data(self.root, self.phase.dataset, self.pid)
        result = task.evaluate(self._model(parameters), val_ds, batch_size=self.phase.batch_size, device=self.device)
        return result["loss"], result["num_examples"], {"acc": result["acc"]}


client_app = ClientApp(client_fn=lambda context: Hospital(context).to_client(), mods=[secaggplus_mod])
server_app = ServerApp()


def secaggplus_workflow(num_clients: int, max_weight: float) -> SecAggPlusWorkflow:
    """SecAgg+ over all hospitals: shares to every one, any num_clients - 1 reconstruct (one dropout tolerated)."""
    return SecAggPlusWorkflow(num_shares=num_clients, reconstruction_threshold=max(2, num_clients - 1),
                              max_weight=max_weight)


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the phase with SecAgg+ and write its model and metrics.json (secure_aggregation recorded)."""
    cfg, phase_name, root, engine = appconfig.from_run_config(context.run_config)
    pc, num = cfg.phase(phase_name), cfg.partition.num_clients
    model = task.initial_model(cfg, pc, root)
    strategy = LegacyFedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=num, min_available_clients=num,
                            initial_parameters=ndarrays_to_parameters(to_ndarrays(model)),
                            on_fit_config_fn=lambda rnd: {"server_round": rnd})
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=pc.rounds), strategy=strategy)
    sizes = sum(task.client_summary(root, pc.dataset, i)["size"] for i in range(num))
    DefaultWorkflow(fit_workflow=secaggplus_workflow(num, max_weight=float(sizes)))(grid, legacy)
    load_ndarrays(model, legacy.state.array_records[MAIN_PARAMS_RECORD].to_numpy_ndarrays())
    out = root / paths.federated_dir(phase_name)
    test = task.evaluate(model, task.central_split(root, pc.dataset, "test"), batch_size=pc.batch_size,
                         device=runtime_device(cfg))
    io.save_model(model, out / "model")
    io.write_json(out / "metrics.json", {"test": {k: test[k] for k in METRIC_KEYS}, "rounds": pc.rounds,
                                         "dataset": pc.dataset, "strategy": "fedavg", "engine": engine,
                                         "secure_aggregation": "secaggplus"})
