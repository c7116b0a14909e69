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

from fedforge import io, paths
from fedforge.fl import appconfig, batchnorm, privacy, task
from fedforge.train.device import runtime_device
from fedforge.train.metrics import METRIC_KEYS

app = ClientApp()


def _node(context: Context) -> tuple:
    cfg, phase, repo_root, _ = appconfig.from_run_config(context.run_config)
    pid = int(context.node_config["partition-id"])
    num = int(context.node_config.get("num-partitions", cfg.partition.num_clients))
    if num != cfg.partition.num_clients or not 0 <= pid < num:
        raise ValueError(f"node_config partition-id={pid} num-partitions={num} does not fit "
                         f"partition.num_clients={cfg.partition.num_clients}")
    repo_root = Path(str(context.node_config.get("repo-root", repo_root)))
    return cfg, cfg.phase(phase), repo_root, pid, phase


def _own_batchnorm(model, conf, repo_root: Path, phase_name: str, pid: int) -> Path:
    """bn: local: put this hospital's own BatchNorm copy (the round the server names) into the model."""
    folder = batchnorm.local_state_dir(repo_root, phase_name, pid)
    batchnorm.load_local(model, folder, int(conf["bn-rounds"][pid]))
    return folder


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
    cfg, phase, repo_root, pid, phase_name = _node(context)
    conf = msg.content["config"]
    server_round = int(conf["server-round"])
    _maybe_fail(pid, "train", server_round)
    device = runtime_device(cfg)
    train_ds, _ = task.client_data(repo_root, phase.dataset, pid)
    model = task.client_model(cfg, repo_root, phase.dataset, phase)
    task.set_arrays(model, msg.content["arrays"])
    local = phase.bn == "local"
    folder = _own_batchnorm(model, conf, repo_root, phase_name, pid) if local else None
    result = task.train_local(
        model, train_ds, epochs=int(conf["local-epochs"]), steps=int(conf.get("local-steps", 0)),
        batch_size=int(conf["batch-size"]),
        lr=float(conf["lr"]), weight_decay=float(conf["weight-decay"]),
        seed=task.client_seed(int(conf["seed"]), server_round, pid), device=device,
        proximal_mu=float(conf.get("proximal-mu", 0.0)), loss=phase.loss, focal_gamma=phase.focal_gamma,
        augment=phase.augment, dp_sgd=privacy.dp_sgd_options(phase, server_round, pid))
    metrics = MetricRecord({"num-examples": result["num_examples"], "train_loss": result["train_loss"],
                            "seconds": result["seconds"], "cpu-seconds": result["cpu_seconds"],
                            **privacy.client_metrics(phase, result)})
    arrays = task.get_arrays(model.cpu())
    if local:  # FedBN: the hospital keeps its BatchNorm (saved for the next round and a resume), never sends it
        batchnorm.save_local(model, folder, server_round)
        arrays = batchnorm.without_keys(arrays, batchnorm.batchnorm_keys(model))
    content = RecordDict({"arrays": arrays, "metrics": metrics,
                          "client": ConfigRecord({"client-id": paths.client_id(pid)})})
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate the model this hospital would use (the global arrays; with bn: local, its own BatchNorm in them)
    on its local validation split. bn: local also evaluates that model on the shared val and test splits (the
    server cannot: it never sees the hospital's BatchNorm) and saves it as model/client_<i>/."""
    cfg, phase, repo_root, pid, phase_name = _node(context)
    conf = msg.content["config"]
    server_round = int(conf["server-round"])
    _maybe_fail(pid, "evaluate", server_round)
    device = runtime_device(cfg)
    _, val_ds = task.client_data(repo_root, phase.dataset, pid)
    model = task.client_model(cfg, repo_root, phase.dataset, phase)
    task.set_arrays(model, msg.content["arrays"])
    if phase.bn == "local":
        _own_batchnorm(model, conf, repo_root, phase_name, pid)
    with torch.no_grad():
        result = task.evaluate(model, val_ds, batch_size=phase.batch_size, device=device)
        shared = {f"central_{split}_{key}": value for split in ("val", "test") if phase.bn == "local"
                  for key, value in task.evaluate(model, task.central_split(repo_root, phase.dataset, split),
                                                  batch_size=phase.batch_size, device=device).items()
                  if key in METRIC_KEYS}
    if phase.bn == "local":
        io.save_model(model.cpu(), repo_root / paths.federated_dir(phase_name) / "model" / paths.client_id(pid))
    metrics = MetricRecord({"num-examples": result["num_examples"], "eval_loss": result["loss"],
                            "eval_acc": result["acc"], "eval_balanced_acc": result["balanced_acc"],
                            "seconds": result["seconds"], "cpu-seconds": result["cpu_seconds"],
                            **shared, **privacy.client_metrics(phase)})
    return Message(content=RecordDict({"metrics": metrics,
                                       "client": ConfigRecord({"client-id": paths.client_id(pid)})}),
                   reply_to=msg)


@app.query()
def describe(msg: Message, context: Context) -> Message:
    """Tell the server who this node is: client id, training-set size and label histogram."""
    _cfg, phase, repo_root, pid, _ = _node(context)
    summary = task.client_summary(repo_root, phase.dataset, pid)
    record = ConfigRecord({"client-id": paths.client_id(pid), "partition-id": pid, "size": summary["size"],
                           "label-histogram": summary["label_histogram"]})
    return Message(content=RecordDict({"client": record}), reply_to=msg)


@app.query("bn_stats")
def batchnorm_statistics(msg: Message, context: Context) -> Message:
    """bn: recalibrated: BatchNorm running statistics of the received global weights, re-estimated on this
    hospital's training images (forward passes only; fl/batchnorm.py), and how many batches they average."""
    cfg, phase, repo_root, pid, _ = _node(context)
    train_ds, _ = task.client_data(repo_root, phase.dataset, pid)
    model = task.client_model(cfg, repo_root, phase.dataset, phase)
    task.set_arrays(model, msg.content["arrays"])
    server_round = int(msg.content["config"]["server-round"])
    order = batchnorm.shuffled_order(len(train_ds), task.client_seed(cfg.seed, server_round, pid))
    stats, batches = batchnorm.estimate_statistics(model, train_ds, order, phase.batch_size, runtime_device(cfg),
                                                   max_batches=phase.local_steps)  # 0: the whole training split
    return Message(content=RecordDict({"arrays": stats, "metrics": MetricRecord({"num-batches": batches}),
                                       "client": ConfigRecord({"client-id": paths.client_id(pid)})}),
                   reply_to=msg)
