"""Per-round checkpoints of a phase: global arrays, strategy state and rounds.tsv rows, in one atomic file.

Same state, same bytes (no timestamp inside), so two runs of a phase leave identical checkpoints.

artifacts/checkpoints/<phase>/checkpoint.npz is a DVC `persist: true` output, so a re-run of a killed
phase finds it. It is resumed only if it was written for the same inputs (fingerprint of the phase's
params, the data meta files and the warm-start model) and the run it came from did not complete; a
completed one is kept for inspection but a re-run (e.g. after a code change) starts fresh.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord

from fedforge import io, paths
from fedforge.config import Config
from fedforge.data.arrays import ZIP_EPOCH

log = logging.getLogger(__name__)
FILENAME = "checkpoint.npz"
_INERT_WITHOUT_DP = {"dp", "norm"}  # keys that change nothing at dp.mode none, norm model: checkpoints stay as before


@dataclass
class Checkpoint:
    """State after `round` completed rounds."""

    round: int
    arrays: ArrayRecord
    strategy_state: dict[str, np.ndarray]
    rows: list[dict]
    fingerprint: str
    completed: bool = False
    privacy: dict = field(default_factory=dict)  # DP accountant state (fl/privacy.py PhasePrivacy.state), JSON


def fingerprint(cfg: Config, phase: str, repo_root: Path) -> str:
    """Hash of everything a phase's result depends on besides code: its params and its input data."""
    pc = cfg.phase(phase)
    plain = pc.dp.mode == "none" and pc.norm == "model"  # then the privacy keys are left out: fingerprints as before
    secagg = cfg.federation.secure_aggregation != "none"
    h = hashlib.sha256(json.dumps({
        "seed": cfg.seed, "model": cfg.model.model_dump(),
        "phase": pc.model_dump(exclude=_INERT_WITHOUT_DP if plain else None),
        "federation": cfg.federation.model_dump(exclude={"workers"} | (set() if secagg else {"secure_aggregation"})),
        "device": cfg.device, "threads": cfg.threads, "num_clients": cfg.partition.num_clients},
        sort_keys=True).encode())
    inputs = [repo_root / paths.preprocessed_clients_dir(pc.dataset) / "meta.json",
              repo_root / paths.preprocessed_central_dir(pc.dataset) / "meta.json"]
    if pc.warm_start == "centralized":
        inputs += sorted((repo_root / paths.centralized_dir(pc.dataset) / "model").glob("*"))
    for path in inputs:
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def save(folder: Path, ckpt: Checkpoint) -> None:
    """Write the checkpoint to a temp file and os.replace it, so a kill never leaves half a checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(ckpt.arrays.keys())
    blobs = {f"a{i:05d}": ckpt.arrays[k].numpy() for i, k in enumerate(keys)}
    state_keys = list(ckpt.strategy_state)
    blobs.update({f"s{i:05d}": ckpt.strategy_state[k] for i, k in enumerate(state_keys)})
    meta = {"round": ckpt.round, "keys": keys, "state_keys": state_keys, "rows": ckpt.rows, "fingerprint": ckpt.fingerprint,
            "completed": ckpt.completed, **({"privacy": ckpt.privacy} if ckpt.privacy else {})}  # none: as before
    blobs["meta"] = np.array(json.dumps(meta))
    with io.atomic_file(folder / FILENAME) as tmp, open(tmp, "wb") as fh:
        _write_npz(fh, blobs)
        fh.flush()
        os.fsync(fh.fileno())


def _write_npz(fh, blobs: dict[str, np.ndarray]) -> None:
    """np.savez's layout (np.load reads it) with every member dated ZIP_EPOCH by us, not by numpy's internals
    (numpy 2.x happens to date members 1980-01-01; older releases used the current time)."""
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in blobs.items():
            with zf.open(zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH), "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def load(folder: Path, expected_fingerprint: str) -> Checkpoint | None:
    """The resumable checkpoint in `folder`, or None (missing, other params/data, or already completed)."""
    path = folder / FILENAME
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = ArrayRecord({k: Array(np.array(data[f"a{i:05d}"])) for i, k in enumerate(meta["keys"])})
            state = {k: np.array(data[f"s{i:05d}"]) for i, k in enumerate(meta["state_keys"])}
    except Exception as exc:  # noqa: BLE001 - an unreadable checkpoint is a reason to start fresh, not to fail
        log.warning("checkpoint %s unreadable (%s); starting fresh", path, exc)
        return None
    if meta["fingerprint"] != expected_fingerprint:
        log.info("checkpoint %s was written for other params or data (%s != %s); starting fresh",
                 path, meta["fingerprint"], expected_fingerprint)
        return None
    if meta["completed"]:
        log.info("checkpoint %s belongs to a completed run; starting fresh", path)
        return None
    log.info("resuming from %s after round %d", path, meta["round"])
    return Checkpoint(round=int(meta["round"]), arrays=arrays, strategy_state=state, rows=meta["rows"],
                      fingerprint=meta["fingerprint"], completed=False, privacy=meta.get("privacy", {}))
