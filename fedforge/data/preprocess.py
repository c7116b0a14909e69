"""preprocess@<dataset>: model-ready arrays: float32 N×3×H×W normalised with TRAIN-split statistics only.

central/ holds train/val/test (independent of the partition, so its bytes stay identical across presets
and centralized stages downstream do not re-run); clients/ holds each client's local train/val. Written
in row chunks with plain file writes (peak memory = one chunk) through a 256-entry lookup table per
channel, so the float values are bit-for-bit deterministic.
"""
from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fedforge import paths
from fedforge.config import Config
from fedforge.data import label_names
from fedforge.data.arrays import NpyWriter, iter_npz_rows, npz_info, read_npz_array
from fedforge.data.synthetic import SPLITS
from fedforge.errors import MissingInputError
from fedforge.io import atomic_dir, write_json

log = logging.getLogger(__name__)
CHUNK_PIXELS = 4096 * 28 * 28


def train_statistics(npz: Path, chunk_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean/std of the train images in [0, 1], from exact integer sums (chunking-independent)."""
    total, total_sq, n = np.zeros(3, np.uint64), np.zeros(3, np.uint64), 0
    for chunk in tqdm(iter_npz_rows(npz, "train_images", chunk_rows), desc="train statistics", disable=None):
        flat = chunk.reshape(-1, 3).astype(np.uint32)
        total += flat.sum(axis=0, dtype=np.uint64)
        total_sq += np.einsum("ij,ij->j", flat, flat, dtype=np.uint64)
        n += len(flat)
    mean = total.astype(np.float64) / n / 255
    std = np.sqrt(total_sq.astype(np.float64) / n / 255**2 - mean**2)
    return mean, std


def normaliser(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """3×256 float32 table: lut[c, v] = (v / 255 - mean[c]) / std[c]."""
    values = np.arange(256, dtype=np.float64) / 255
    return ((values[None, :] - mean[:, None]) / std[:, None]).astype(np.float32)


def to_model(images: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """uint8 B×H×W×3 -> normalised float32 B×3×H×W."""
    out = np.empty((images.shape[0], 3, *images.shape[1:3]), np.float32)
    for c in range(3):
        out[:, c] = lut[c][images[..., c]]
    return out


def write_arrays(npz: Path, clients: dict[str, dict[str, np.ndarray]], central: Path, client_dir: Path,
                 lut: np.ndarray, chunk_rows: int) -> None:
    """One streaming pass per split: central {split}_x/_y, and each client's rows of train as they pass by."""
    for split in SPLITS:
        shape, _ = npz_info(npz, f"{split}_images")
        labels = read_npz_array(npz, f"{split}_labels").reshape(-1).astype(np.int64)
        np.save(central / f"{split}_y.npy", labels)
        row_shape = (3, shape[1], shape[2])
        with ExitStack() as stack:
            central_x = stack.enter_context(NpyWriter(central / f"{split}_x.npy", (shape[0], *row_shape), np.float32))
            client_writers = []  # client rows are sorted indices into train: written during the same pass
            for cid, parts in (clients.items() if split == "train" else ()):
                for part, idx in parts.items():
                    np.save(client_dir / f"{cid}_{part}_y.npy", labels[idx])
                    path = client_dir / f"{cid}_{part}_x.npy"
                    client_writers.append((idx, stack.enter_context(NpyWriter(path, (len(idx), *row_shape), np.float32))))
            start = 0
            for chunk in tqdm(iter_npz_rows(npz, f"{split}_images", chunk_rows), desc=f"preprocess {split}",
                              total=-(-shape[0] // chunk_rows), disable=None):
                x = to_model(chunk, lut)
                central_x.write(x)
                for idx, writer in client_writers:
                    lo, hi = np.searchsorted(idx, [start, start + len(chunk)])
                    writer.write(x[idx[lo:hi] - start])
                start += len(chunk)


def run_preprocess(cfg: Config, dataset: str) -> dict:
    """Write artifacts/preprocessed/<dataset>/{central,clients}/ from the raw file and the partition indices."""
    cfg.dataset(dataset)
    size = cfg.data.image_size
    npz = paths.raw_npz(cfg.data.root, dataset, size)
    index_dir = paths.partition_dir(dataset) / "indices"
    if not npz.is_file():
        raise MissingInputError(f"{npz}: missing; run `dvc repro download@{dataset}` first")
    if not index_dir.is_dir():
        raise MissingInputError(f"{index_dir}: missing; run `dvc repro partition@{dataset}` first")
    num_clients = len(list(index_dir.glob("client_*_train.npy")))
    clients = {paths.client_id(i): {part: np.load(index_dir / f"{paths.client_id(i)}_{part}.npy")
                                    for part in ("train", "val")} for i in range(num_clients)}
    chunk_rows = max(1, CHUNK_PIXELS // (size * size))
    mean, std = train_statistics(npz, chunk_rows)
    central_dir, client_dir = paths.preprocessed_central_dir(dataset), paths.preprocessed_clients_dir(dataset)
    with atomic_dir(central_dir) as central_tmp, atomic_dir(client_dir) as clients_tmp:
        write_arrays(npz, clients, central_tmp, clients_tmp, normaliser(mean, std), chunk_rows)
        meta = _write_meta(cfg, dataset, size, central_tmp, clients_tmp, clients, mean, std)
    log.info("preprocess@%s: central %s, %d clients (mean %s, std %s)", dataset, meta["sizes"], num_clients,
             np.round(mean, 4).tolist(), np.round(std, 4).tolist())
    return meta


def _write_meta(cfg: Config, dataset: str, size: int, central_tmp: Path, clients_tmp: Path, clients: dict,
                mean: np.ndarray, std: np.ndarray) -> dict:
    """meta.json of the central and the clients folder: source, sizes, label names and histograms, statistics."""
    num_clients = len(clients)
    labels = {s: np.load(central_tmp / f"{s}_y.npy") for s in SPLITS}
    names = label_names(dataset)
    meta = {"dataset": dataset, "data_source": cfg.data.source, "image_size": size, "num_classes": len(names),
            "label_names": names, "mean": [float(m) for m in mean], "std": [float(s) for s in std],
            "sizes": {s: len(y) for s, y in labels.items()}}
    write_json(central_tmp / "meta.json", meta)
    write_json(clients_tmp / "meta.json", {
        "dataset": dataset, "data_source": cfg.data.source, "num_clients": num_clients,
        "sizes": {cid: {p: len(idx) for p, idx in parts.items()} for cid, parts in clients.items()},
        "label_histograms": {cid: {p: np.bincount(labels["train"][idx], minlength=len(names)).tolist()
                                   for p, idx in parts.items()} for cid, parts in clients.items()}})
    return meta
