"""partition@<dataset>: split the train split across simulated hospitals with flwr-datasets partitioners.

Presets: `iid` (seeded shuffle, then IidPartitioner's equal shards), `moderate` / `severe` (Dirichlet over
labels with partition.alphas). Each client's partition then holds out partition.val_fraction as its local
validation set. Outputs int64 index files into the train split, stats.json (DVC metrics: a fixed set of
headline keys, whatever the number of clients), clients.json (per-client sizes and label counts, a plain
output) and label_histogram.json (DVC plot rows {client, label, count}).
"""
from __future__ import annotations

import logging
import math
import warnings

import numpy as np

from fedforge import paths
from fedforge.config import Config
from fedforge.data import DataError, label_names
from fedforge.data.arrays import read_npz_array
from fedforge.errors import MissingInputError
from fedforge.io import atomic_dir, write_json

log = logging.getLogger(__name__)


def partition_labels(labels: np.ndarray, num_clients: int, preset: str, alpha: float | None, seed: int,
                     min_size: int) -> list[np.ndarray]:
    """Indices (into `labels`) per client, from the flwr-datasets partitioner the preset names."""
    from datasets import Dataset
    from flwr_datasets.partitioner import DirichletPartitioner, IidPartitioner

    table = Dataset.from_dict({"index": np.arange(len(labels)), "label": labels})
    if preset == "iid":
        partitioner = IidPartitioner(num_partitions=num_clients)
        partitioner.dataset = table.shuffle(seed=seed)
    else:
        partitioner = DirichletPartitioner(num_partitions=num_clients, partition_by="label", alpha=float(alpha),
                                           min_partition_size=min_size, self_balancing=True, shuffle=False,
                                           seed=seed)
        partitioner.dataset = table
    try:
        with warnings.catch_warnings():  # it warns on every retry; the final failure is what matters
            warnings.simplefilter("ignore")
            # [:] reads the column as one batch; partition["index"] would iterate row by row (datasets 4.x Column)
            return [np.asarray(partitioner.load_partition(i)[:]["index"], dtype=np.int64) for i in range(num_clients)]
    except ValueError:
        client, size = smallest_client(table, num_clients, float(alpha), seed)
        raise DataError(f"partition: preset {preset} (alpha {alpha}) could not give each of {num_clients} clients "
                        f"at least {min_size} images (partition.min_client_size plus the local val hold-out) in 10 "
                        f"Dirichlet draws; in the first draw {client} got {size}. Lower partition.min_client_size "
                        f"or partition.num_clients, use a milder preset, or raise partition.alphas.{preset}") from None


def smallest_client(table, num_clients: int, alpha: float, seed: int) -> tuple[str, int]:
    """(client id, size) of the smallest client of one unconstrained Dirichlet draw (for the failure message)."""
    from flwr_datasets.partitioner import DirichletPartitioner

    partitioner = DirichletPartitioner(num_partitions=num_clients, partition_by="label", alpha=alpha,
                                       min_partition_size=0, self_balancing=True, shuffle=False, seed=seed)
    partitioner.dataset = table
    sizes = [partitioner.load_partition(i).num_rows for i in range(num_clients)]
    smallest = int(np.argmin(sizes))
    return paths.client_id(smallest), sizes[smallest]


def hold_out(indices: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) sorted index arrays: a seeded `fraction` of the client's images becomes its local val set."""
    shuffled = rng.permutation(indices)
    n_val = round(len(indices) * fraction)
    return np.sort(shuffled[n_val:]), np.sort(shuffled[:n_val])


def make_partitions(labels: np.ndarray, *, num_clients: int, preset: str, alpha: float | None, seed: int,
                    min_client_size: int, val_fraction: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """client id -> (train indices, val indices); every train part has at least min_client_size images."""
    # Ask the partitioner for enough images that min_client_size remain after the local val hold-out.
    min_size = math.ceil(min_client_size / (1 - val_fraction)) + 1
    if num_clients * min_size > len(labels):
        raise DataError(f"partition: {num_clients} clients × partition.min_client_size={min_client_size} training "
                        f"images (+ {val_fraction:.0%} local validation) need {num_clients * min_size} images, but the "
                        f"train split has {len(labels)}; lower partition.num_clients or partition.min_client_size, "
                        f"or raise data.synthetic.scale")
    parts = partition_labels(labels, num_clients, preset, alpha, seed, min_size)
    rng = np.random.default_rng([seed, 7])
    clients = {paths.client_id(i): hold_out(p, val_fraction, rng) for i, p in enumerate(parts)}
    small = {c: len(tr) for c, (tr, _) in clients.items() if len(tr) < min_client_size}
    if small:
        raise DataError(f"partition: {small} have fewer than partition.min_client_size={min_client_size} training "
                        f"images; lower min_client_size or num_clients, or use a milder preset")
    return clients


def partition_stats(labels: np.ndarray, clients: dict, num_classes: int,
                    **settings) -> tuple[dict, dict, list[dict]]:
    """stats.json content (headline numbers), clients.json content and label-histogram plot rows."""
    sizes, hists, rows, skews = {}, {}, [], []
    overall = np.bincount(labels, minlength=num_classes) / len(labels)
    for cid, (train, val) in clients.items():
        hist = np.bincount(labels[train], minlength=num_classes)
        sizes[cid] = {"train": len(train), "val": len(val)}
        hists[cid] = {str(k): int(c) for k, c in enumerate(hist)}
        # one bar per (client, class): DVC's bar template has no colour channel, so the pair is the bar's name
        rows += [{"client": cid, "label": k, "count": int(c), "bar": f"{cid} class {k}"} for k, c in enumerate(hist)]
        skews.append(0.5 * np.abs(hist / max(hist.sum(), 1) - overall).sum())
    stats = {**settings, "num_classes": num_classes, "total_train": len(labels),
             # mean total-variation distance of the clients' label mix from the whole train split (0 = iid)
             "label_skew": round(float(np.mean(skews)), 6),
             "train_sizes": {"min": min(s["train"] for s in sizes.values()),
                             "max": max(s["train"] for s in sizes.values())}}
    return stats, {"sizes": sizes, "label_histograms": hists}, rows


def run_partition(cfg: Config, dataset: str) -> dict:
    """Partition data.root/<dataset>'s train split; write indices/, stats.json, clients.json, label_histogram.json."""
    cfg.dataset(dataset)
    pc = cfg.partition
    npz = paths.raw_npz(cfg.data.root, dataset, cfg.data.image_size)
    if not npz.is_file():
        raise MissingInputError(f"{npz}: missing; run `dvc repro download@{dataset}` first")
    labels = read_npz_array(npz, "train_labels").reshape(-1).astype(np.int64)
    alpha = None if pc.preset == "iid" else pc.alphas[pc.preset]
    clients = make_partitions(labels, num_clients=pc.num_clients, preset=pc.preset, alpha=alpha, seed=cfg.seed,
                              min_client_size=pc.min_client_size, val_fraction=pc.val_fraction)
    out = paths.partition_dir(dataset)
    with atomic_dir(out / "indices") as tmp:
        for cid, (train, val) in clients.items():
            np.save(tmp / f"{cid}_train.npy", train)
            np.save(tmp / f"{cid}_val.npy", val)
    stats, per_client, rows = partition_stats(labels, clients, len(label_names(dataset)), dataset=dataset, preset=pc.preset,
                                  alpha=alpha, num_clients=pc.num_clients, seed=cfg.seed,
                                  min_client_size=pc.min_client_size, val_fraction=pc.val_fraction)
    write_json(out / "stats.json", stats)
    write_json(out / "clients.json", per_client)
    write_json(out / "label_histogram.json", rows)
    log.info("partition@%s: %s, train sizes %s", dataset, pc.preset,
             {c: s["train"] for c, s in per_client["sizes"].items()})
    return stats
