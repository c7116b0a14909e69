"""Flower ClientApp: one hospital. Trains the global model on its partition and reports on its local val set.

run_config: see server_app.py. node_config: "partition-id" (int), "num-partitions" (int), optional
"repo-root" (where this machine keeps artifacts/preprocessed/<ds>/clients). Client id = client_<partition-id>.
Test-only fault injection: env FEDFORGE_FAULTS="client_1:train:2,client_0:evaluate:1" makes that client
raise in that stage of that round (the error reply is what a crashed hospital looks like to the server);
a fourth field ":hang" makes it block instead (tests SIGKILL the stage while it hangs).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedforge import paths
from fedforge.fl import appconfig, privacy, task
from fedforge.train.device import runtime_device

app = ClientApp()


def _node(context: Context) -> tuple:
    cfg, phase, repo_root, _ = appconfig.from_run_config(context.run_config)
    pid = int(context.node_config["partition-id"])
    num = int(context.node_config.get("num-partitions", cfg.partition.num_clients))
    if num != cfg.partition.num_clients or not 0 <= pid < num:
        raise ValueError(f"node_config partition-id={pid} num-partitions={num} does not fit "
                         f"partition.num_clients={cfg.partition.num_clients}")
    repo_root = Path(str(context.node_config.get("repo-root", repo_root)))
    return cfg, cfg.phase(phase), repo_root, pid


def _maybe_fail(pid: int, stage: str, server_round: int) -> None:
    """Raise (or hang) if FEDFORGE_FAULTS names this client, stage and round (tests and demos only)."""
    for spec in filter(None, os.environ.get("FEDFORGE_FAULTS", "").split(",")):
        who, what, when, *how = spec.strip().split(":")
        if who == paths.client_id(pid) and what == stage and int(when) == server_round:
            if how == ["hang"]:
                time.sleep(3600)
            raise RuntimeError(f"injected fault: {who} {stage} round {server_round} (FEDFORGE_FAULTS)")


@app.train(mods=[privacy.clipping_mod])  # DP phases only: the mod passes through elsewhere
def train(msg: Message, context: Context) -> Message:
    """Local epochs of HF Trainer from the received global arrays; reply with new arrays + train loss."""
    cfg, phase, repo_root, pid = _node(context)
    conf = msg.content["config"]
    server_round = int(conf["server-round"])
    _maybe_fail(pid, "train", server_round)
    device = runtime_device(cfg)
    train_ds, _ = task.client_data(repo_root, phase.dataset, pid)
    model = task.client_model(cfg, repo_root, phase.dataset, phase)
    task.set_arrays(model, msg.content["arrays"])
    result = task.train_local(
        model, train_ds, epochs=int(conf["local-epochs"]), steps=int(conf.get("local-steps", 0)),
        batch_size=int(conf["batch-size"]),
        lr=float(conf["lr"]), weight_decay=float(conf["weight-decay"]),
        seed=task.client_seed(int(conf["seed"]), server_round, pid), device=device,
        proximal_mu=float(conf.get("proximal-mu", 0.0)), loss=phase.loss, focal_gamma=phase.focal_gamma,
        dp_sgd=privacy.dp_sgd_options(phase, server_round, pid))
    metrics = MetricRecord({"num-examples": result["num_examples"], "train_loss": result["train_loss"],
                            "seconds": result["seconds"], "cpu-seconds": result["cpu_seconds"],
                            **privacy.client_metrics(phase, result)})
    content = RecordDict({"arrays": task.get_arrays(model.cpu()), "metrics": metrics,
                          "client": ConfigRecord({"client-id": paths.client_id(pid)})})
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate the received global arrays on this client's local validation split."""
    cfg, phase, repo_root, pid = _node(context)
    server_round = int(msg.content["config"]["server-round"])
    _maybe_fail(pid, "evaluate", server_round)
    device = runtime_device(cfg)
    _, val_ds = task.client_data(repo_root, phase.dataset, pid)
    model = task.client_model(cfg, repo_root, phase.dataset, phase)
    task.set_arrays(model, msg.content["arrays"])
    with torch.no_grad():
        result = task.evaluate(model, val_ds, batch_size=phase.batch_size, device=device)
    metrics = MetricRecord({"num-examples": result["num_examples"], "eval_loss": result["loss"],
                            "eval_acc": result["acc"], "eval_balanced_acc": result["balanced_acc"],
                            "seconds": result["seconds"], "cpu-seconds": result["cpu_seconds"],
                            **privacy.client_metrics(phase)})
    return Message(content=RecordDict({"metrics": metrics,
                                       "client": ConfigRecord({"client-id": paths.client_id(pid)})}),
                   reply_to=msg)


@app.query()
def describe(msg: Message, context: Context) -> Message:
    """Tell the server who this node is: client id, training-set size and label histogram."""
    _cfg, phase, repo_root, pid = _node(context)
    summary = task.client_summary(repo_root, phase.dataset, pid)
    record = ConfigRecord({"client-id": paths.client_id(pid), "partition-id": pid, "size": summary["size"],
                           "label-histogram": summary["label_histogram"]})
    return Message(content=RecordDict({"client": record}), reply_to=msg)
