"""The synthetic twin of MedMNIST: same file, keys, dtypes, split sizes (× scale) and class proportions.

Each class has a prototype (cell/tissue blob size, elongation, colour, texture orientation and frequency);
every image draws its parameters around its class prototype with enough spread that neighbouring classes
overlap, then gets a random position, orientation, brightness and pixel noise. A small CNN learns it well
above the majority-class rate but not perfectly, so FL vs centralized and IID vs non-IID differences show.
Deterministic from (seed, dataset, image size); vectorised numpy in row chunks, so any scale stays fast.
"""
from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fedforge.data.arrays import write_npz

log = logging.getLogger(__name__)

# MedMNIST v2 (28 px) train class counts; val/test use the same proportions.
CLASS_COUNTS = {
    "bloodmnist": (852, 2181, 1085, 2026, 849, 993, 2330, 1643),
    "dermamnist": (228, 359, 769, 80, 779, 4693, 99),
    "pathmnist": (9366, 9509, 10360, 10401, 8006, 12182, 7886, 9401, 12885),
}
SPLIT_SIZES = {
    "bloodmnist": {"train": 11959, "val": 1712, "test": 3421},
    "dermamnist": {"train": 7007, "val": 1003, "test": 2005},
    "pathmnist": {"train": 89996, "val": 10004, "test": 7180},
}
SPLITS = ("train", "val", "test")
MIN_PER_CLASS = 3  # even a tiny twin has every class in every split
# Background and mean foreground colour (RGB in [0, 1]) per dataset: stain-like palettes, for plausible previews.
PALETTES = {
    "bloodmnist": ((0.93, 0.85, 0.80), (0.60, 0.35, 0.65)),
    "dermamnist": ((0.85, 0.65, 0.55), (0.55, 0.35, 0.30)),
    "pathmnist": ((0.92, 0.80, 0.88), (0.65, 0.35, 0.60)),
}
# Per-image spread around the class prototype, relative to how far prototypes lie apart: this sets difficulty.
SPREAD = {"radius": 0.22, "aspect": 0.15, "colour": 0.09, "angle": 0.45, "freq": 0.25, "noise": 0.10}
CHUNK_PIXELS = 4096 * 28 * 28  # rows per generated chunk scale down with image area (constant memory)


def split_class_counts(dataset: str, split: str, scale: float) -> np.ndarray:
    """Images per class in one split: round(real size × scale) apportioned by the real class proportions."""
    counts = np.asarray(CLASS_COUNTS[dataset], dtype=np.int64)
    total = round(SPLIT_SIZES[dataset][split] * scale)
    quota = counts * total  # exact integer largest-remainder apportionment (no float ties)
    share, remainder = quota // counts.sum(), quota % counts.sum()
    order = sorted(range(len(counts)), key=lambda k: (-remainder[k], k))
    share[order[: total - int(share.sum())]] += 1
    return np.maximum(share, MIN_PER_CLASS)


def _rng(seed: int, dataset: str, *stream: int) -> np.random.Generator:
    """An independent, reproducible random stream per (seed, dataset, purpose...)."""
    return np.random.default_rng([seed, zlib.crc32(dataset.encode()), *stream])


def class_prototypes(dataset: str, seed: int) -> dict[str, np.ndarray]:
    """One parameter vector per class; shared by all splits so val/test look like train."""
    k = len(CLASS_COUNTS[dataset])
    rng = _rng(seed, dataset, 0)
    _, fg = PALETTES[dataset]
    return {
        "radius": rng.uniform(0.35, 0.75, k),             # blob radius, fraction of the half-width
        "aspect": rng.uniform(0.55, 1.0, k),              # minor/major axis ratio
        "colour": np.clip(np.asarray(fg) + rng.uniform(-0.18, 0.18, (k, 3)), 0, 1),
        "angle": (np.arange(k) + rng.uniform(-0.3, 0.3, k)) * np.pi / k,  # texture orientation
        "freq": rng.uniform(1.0, 3.5, k),                 # texture cycles across the image
        "texture": rng.uniform(0.10, 0.35, k),            # texture contrast
    }


def render(labels: np.ndarray, size: int, proto: dict[str, np.ndarray], background: tuple,
           rng: np.random.Generator) -> np.ndarray:
    """uint8 images (B×size×size×3) for the given labels: class prototype + per-image randomness."""
    b = len(labels)
    f32 = np.float32

    def per_image(values: np.ndarray) -> np.ndarray:
        return values.astype(f32).reshape(b, 1, 1)

    grid = np.linspace(-1, 1, size, dtype=f32)
    yy, xx = grid[None, :, None], grid[None, None, :]
    cx, cy = per_image(rng.uniform(-0.3, 0.3, b)), per_image(rng.uniform(-0.3, 0.3, b))
    tilt = per_image(rng.uniform(0, np.pi, b))
    radius = per_image(proto["radius"][labels] * np.exp(SPREAD["radius"] * rng.standard_normal(b)))
    aspect = per_image(np.clip(proto["aspect"][labels] + SPREAD["aspect"] * rng.standard_normal(b), 0.3, 1.0))
    u = (xx - cx) * np.cos(tilt) + (yy - cy) * np.sin(tilt)
    v = (yy - cy) * np.cos(tilt) - (xx - cx) * np.sin(tilt)
    dist2 = (u / radius) ** 2 + (v / (radius * aspect)) ** 2
    mask = np.clip((1.0 - dist2) * 3.0, 0.0, 1.0)  # soft-edged ellipse

    angle = per_image(proto["angle"][labels] + SPREAD["angle"] * rng.standard_normal(b))
    freq = per_image(proto["freq"][labels] * np.exp(SPREAD["freq"] * rng.standard_normal(b)))
    phase = per_image(rng.uniform(0, 2 * np.pi, b))
    wave = np.sin(np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
    texture = 1.0 + per_image(proto["texture"][labels]) * wave

    colour = (proto["colour"][labels] + SPREAD["colour"] * rng.standard_normal((b, 3))).astype(f32)
    bg = (np.asarray(background) + 0.05 * rng.standard_normal((b, 3))).astype(f32)
    brightness = np.exp(0.08 * rng.standard_normal(b)).astype(f32).reshape(b, 1, 1, 1)
    mask, texture = mask[..., None], texture[..., None]
    img = bg[:, None, None, :] * (1 - mask) + colour[:, None, None, :] * mask * texture
    img *= brightness * f32(255)
    noise = rng.random(img.shape, dtype=f32)  # uniform noise with std SPREAD["noise"]: 5x cheaper than normal
    noise -= f32(0.5)
    noise *= f32(255 * SPREAD["noise"] * np.sqrt(12))
    img += noise + f32(0.5)
    return np.clip(img, 0, 255, out=img).astype(np.uint8)


def split_labels(dataset: str, split: str, scale: float, seed: int) -> np.ndarray:
    """The split's labels (int64), in a seeded shuffled order."""
    counts = split_class_counts(dataset, split, scale)
    labels = np.repeat(np.arange(len(counts)), counts)
    return _rng(seed, dataset, 1, SPLITS.index(split)).permutation(labels)


def write_synthetic(path: str | Path, dataset: str, image_size: int, scale: float, seed: int) -> Path:
    """Write the twin as a MedMNIST-format .npz (keys <split>_images uint8 N×H×W×3, <split>_labels uint8 N×1)."""
    proto = class_prototypes(dataset, seed)
    background = PALETTES[dataset][0]
    chunk_rows = max(1, CHUNK_PIXELS // (image_size * image_size))
    members = {}
    for s, split in enumerate(SPLITS):
        labels = split_labels(dataset, split, scale, seed)

        def chunks(labels=labels, s=s, split=split):
            starts = range(0, len(labels), chunk_rows)
            for c, start in enumerate(tqdm(starts, desc=f"synthesize {dataset} {split}", disable=None, leave=False)):
                rng = _rng(seed, dataset, 2, s, image_size, c)
                yield render(labels[start:start + chunk_rows], image_size, proto, background, rng)

        members[f"{split}_images"] = ((len(labels), image_size, image_size, 3), np.uint8, chunks())
        members[f"{split}_labels"] = ((len(labels), 1), np.uint8, [labels.reshape(-1, 1)])
    log.info("synthetic %s: %s images at %d px (scale %g, seed %d) -> %s", dataset,
             {s: int(split_class_counts(dataset, s, scale).sum()) for s in SPLITS}, image_size, scale, seed, path)
    return write_npz(path, members)
