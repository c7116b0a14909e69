"""audit@<dataset>: check a MedMNIST-format file against the schema and write its metrics (DVC metrics).

Fails (DataError naming the problem) on a missing key, a wrong dtype or shape, a label out of range or a
split size off; otherwise records source, md5, shapes, class counts, pixel mean/std and exact duplicates in
audit.json (a plain output), and the few numbers people compare in summary.json (the DVC metrics).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fedforge import paths
from fedforge.config import Config
from fedforge.data import DataError, label_names, medmnist_info
from fedforge.data.arrays import iter_npz_rows, md5_file, npz_info, npz_keys, read_npz_array
from fedforge.data.synthetic import SPLITS, split_class_counts
from fedforge.errors import MissingInputError
from fedforge.io import write_json

CHUNK_PIXELS = 4096 * 28 * 28


def expected_sizes(source: str, dataset: str, scale: float) -> dict[str, int]:
    """Split sizes the file must have: MedMNIST's own for real data, the real sizes × scale for the twin."""
    if source == "synthetic":
        return {s: int(split_class_counts(dataset, s, scale).sum()) for s in SPLITS}
    return dict(medmnist_info(dataset)["n_samples"])


def check_schema(path: Path, sizes: dict[str, int], num_classes: int, image_size: int) -> None:
    """Raise DataError naming the first schema violation (keys, dtypes, shapes, split sizes)."""
    keys = set(npz_keys(path))
    for split in SPLITS:
        for kind in ("images", "labels"):
            if f"{split}_{kind}" not in keys:
                raise DataError(f"{path}: missing key {split}_{kind}; a MedMNIST file has "
                                f"{', '.join(f'{s}_images, {s}_labels' for s in SPLITS)}")
        (shape, dtype), (lshape, ldtype) = npz_info(path, f"{split}_images"), npz_info(path, f"{split}_labels")
        if dtype != np.uint8:
            raise DataError(f"{path}: {split}_images has dtype {dtype}, expected uint8")
        if shape[1:] != (image_size, image_size, 3):
            raise DataError(f"{path}: {split}_images has shape {shape}, expected N×{image_size}×{image_size}×3 "
                            f"(data.image_size={image_size}, RGB)")
        if not np.issubdtype(ldtype, np.integer) or len(lshape) != 2 or lshape[1] != 1:
            raise DataError(f"{path}: {split}_labels has shape {lshape} dtype {ldtype}, expected N×1 integers")
        if shape[0] != lshape[0]:
            raise DataError(f"{path}: {split} has {shape[0]} images but {lshape[0]} labels")
        if shape[0] != sizes[split]:
            raise DataError(f"{path}: {split} split has {shape[0]} images, expected {sizes[split]} "
                            f"(does data.source / data.synthetic.scale match the file?)")


def audit_split(path: Path, split: str, num_classes: int, chunk_rows: int) -> tuple[dict, list[bytes]]:
    """Class counts, per-channel pixel mean/std and within-split duplicates of one split, plus image digests."""
    labels = read_npz_array(path, f"{split}_labels").reshape(-1).astype(np.int64)
    bad = np.nonzero((labels < 0) | (labels >= num_classes))[0]
    if len(bad):
        raise DataError(f"{path}: {split}_labels[{bad[0]}] = {labels[bad[0]]} is outside [0, {num_classes - 1}] "
                        f"({len(bad)} labels out of range)")
    total, total_sq, n_pixels, digests = np.zeros(3), np.zeros(3), 0, []
    for chunk in tqdm(iter_npz_rows(path, f"{split}_images", chunk_rows), desc=f"audit {split}", disable=None):
        flat = chunk.reshape(-1, 3)
        total += flat.sum(axis=0, dtype=np.uint64)
        total_sq += np.einsum("ij,ij->j", flat.astype(np.uint32), flat.astype(np.uint32), dtype=np.uint64)
        n_pixels += len(flat)
        digests.extend(hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in chunk)
    mean = total / max(n_pixels, 1) / 255
    std = np.sqrt(np.maximum(total_sq / max(n_pixels, 1) / 255**2 - mean**2, 0))
    return {
        "n": len(labels),
        "class_counts": {str(k): int(c) for k, c in enumerate(np.bincount(labels, minlength=num_classes))},
        "pixel_mean": {c: round(float(m), 6) for c, m in zip("rgb", mean)},
        "pixel_std": {c: round(float(s), 6) for c, s in zip("rgb", std)},
        "duplicates_within": len(digests) - len(set(digests)),
    }, digests


def audit_file(path: Path, *, source: str, dataset: str, sizes: dict[str, int], num_classes: int,
               image_size: int, official_md5: str) -> dict:
    """The audit metrics of one MedMNIST-format file; raises DataError on a schema violation."""
    check_schema(path, sizes, num_classes, image_size)
    md5 = md5_file(path)
    chunk_rows = max(1, CHUNK_PIXELS // (image_size * image_size))
    splits, digests = {}, {}
    for split in SPLITS:
        splits[split], hashes = audit_split(path, split, num_classes, chunk_rows)
        digests[split] = set(hashes)
    return {
        "dataset": dataset,
        "data_source": source,
        "file": path.name,
        "md5": md5,
        "md5_official": official_md5,
        "md5_matches_official": md5 == official_md5,
        "image_size": image_size,
        "num_classes": num_classes,
        "splits": splits,
        "duplicates_across": {f"{a}_{b}": len(digests[a] & digests[b])
                              for a, b in (("train", "val"), ("train", "test"), ("val", "test"))},
    }


def audit_summary(report: dict) -> dict:
    """The headline numbers of an audit (DVC metrics): the same few keys for every dataset and class count."""
    return {
        "images": {split: report["splits"][split]["n"] for split in SPLITS},
        "duplicates_within": sum(report["splits"][split]["duplicates_within"] for split in SPLITS),
        "duplicates_across": sum(report["duplicates_across"].values()),
        "md5_matches_official": report["md5_matches_official"],
    }


def run_audit(cfg: Config, dataset: str) -> dict:
    """Audit data.root/<dataset>/<file>; write artifacts/audit/<dataset>/audit.json and summary.json."""
    from fedforge.data.download import official_source

    cfg.dataset(dataset)
    path = paths.raw_npz(cfg.data.root, dataset, cfg.data.image_size)
    if not path.is_file():
        raise MissingInputError(f"{path}: missing; run `dvc repro download@{dataset}` first")
    report = audit_file(path, source=cfg.data.source, dataset=dataset,
                        sizes=expected_sizes(cfg.data.source, dataset, cfg.data.synthetic.scale),
                        num_classes=len(label_names(dataset)), image_size=cfg.data.image_size,
                        official_md5=official_source(dataset, cfg.data.image_size)[1])
    write_json(paths.audit_dir(dataset) / "audit.json", report)
    write_json(paths.audit_dir(dataset) / "summary.json", audit_summary(report))
    logging.getLogger(__name__).info("audit@%s: ok (%s, md5 %s)", dataset, cfg.data.source, report["md5"])
    return report
