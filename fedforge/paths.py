"""Where every stage reads and writes: one place, so stages, tests and the monitor agree on layout.

All paths are relative to the repository root (DVC runs stages from there); pass `root` to relocate.
"""
from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path("artifacts")


def client_id(partition_id: int) -> str:
    """The id a hospital's partition is known by everywhere: file names, telemetry, rounds.tsv, dashboard."""
    return f"client_{int(partition_id)}"


def partition_id(client: str) -> int:
    """The partition id in a client id: client_7 -> 7 (the inverse of client_id)."""
    return int(client.removeprefix("client_"))


def npz_name(dataset: str, image_size: int) -> str:
    """MedMNIST's own file name: bloodmnist.npz at 28 px, bloodmnist_64.npz at 64 px and so on."""
    return f"{dataset}.npz" if image_size == 28 else f"{dataset}_{image_size}.npz"


def raw_dir(data_root: str | Path, dataset: str) -> Path:
    """The DVC output of download@<dataset>: a folder medmnist's classes load with root=this folder."""
    return Path(data_root) / dataset


def raw_npz(data_root: str | Path, dataset: str, image_size: int) -> Path:
    """The stage's MedMNIST-format file (real or synthetic), inside raw_dir."""
    return raw_dir(data_root, dataset) / npz_name(dataset, image_size)


def user_npz(data_root: str | Path, dataset: str, image_size: int) -> Path:
    """Where a user copies (or a download lands) a real MedMNIST file: data.root/<name>.npz, outside DVC."""
    return Path(data_root) / npz_name(dataset, image_size)


def audit_dir(dataset: str, root: Path = ARTIFACTS) -> Path:
    """audit.json (DVC metrics) for one dataset."""
    return root / "audit" / dataset


def partition_dir(dataset: str, root: Path = ARTIFACTS) -> Path:
    """client_<i>_train.npy / client_<i>_val.npy index files, stats.json, label histogram plot data."""
    return root / "partitions" / dataset


def preprocessed_central_dir(dataset: str, root: Path = ARTIFACTS) -> Path:
    """{train,val,test}_x.npy (float32 N×C×H×W), {train,val,test}_y.npy (int64 N), meta.json."""
    return root / "preprocessed" / dataset / "central"


def preprocessed_clients_dir(dataset: str, root: Path = ARTIFACTS) -> Path:
    """client_<i>_{train,val}_{x,y}.npy, model-ready per client."""
    return root / "preprocessed" / dataset / "clients"


def centralized_dir(dataset: str, root: Path = ARTIFACTS) -> Path:
    """model/, metrics.json, plots for the centralized baseline."""
    return root / "centralized" / dataset


def federated_dir(phase: str, root: Path = ARTIFACTS) -> Path:
    """model/, rounds.tsv, metrics.json, events.jsonl, plots for one federated phase."""
    return root / "federated" / phase


def checkpoint_dir(phase: str, root: Path = ARTIFACTS) -> Path:
    """Per-round checkpoints of one phase (a DVC `persist: true` output, so a re-run resumes)."""
    return root / "checkpoints" / phase


def deployment_dir(phase: str, root: Path = ARTIFACTS) -> Path:
    """Deployment Engine run folder of one phase: process logs, private FLWR_HOME, generated app (not DVC)."""
    return root / "deployment" / phase


def analysis_dir(root: Path = ARTIFACTS) -> Path:
    """Executed notebook, HTML export and figures."""
    return root / "analysis"


def monitor_db(root: Path = ARTIFACTS) -> Path:
    """The monitor's SQLite database; the bearer token file sits beside it."""
    return root / "monitor" / "monitor.db"
