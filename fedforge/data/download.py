"""download@<dataset>: put one MedMNIST-format .npz into data.root/<dataset>/ (the stage's DVC output).

Two sources (params `data.source`): `synthetic` writes the offline twin (fedforge.data.synthetic);
`medmnist` fetches the real file named in `medmnist.INFO` (URL + md5), or reuses a verified copy at
data.root/<file>. Downloads land under a temporary name and are renamed only after the md5 matched, so a
partial or corrupt file never becomes an output.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from fedforge import paths
from fedforge.config import Config
from fedforge.data import DataError, medmnist_info
from fedforge.data.arrays import md5_file
from fedforge.data.synthetic import write_synthetic
from fedforge.io import atomic_file

log = logging.getLogger(__name__)


def official_source(dataset: str, image_size: int) -> tuple[str, str]:
    """(url, md5) medmnist publishes for this dataset and size (its INFO keys are url/MD5, url_64/MD5_64 ...)."""
    suffix = "" if image_size == 28 else f"_{image_size}"
    info = medmnist_info(dataset)
    return info[f"url{suffix}"], info[f"MD5{suffix}"]


def _fetch(url: str, target: Path) -> None:
    """Download url to target (torchvision's downloader, as medmnist uses)."""
    from torchvision.datasets.utils import download_url

    download_url(url, root=str(target.parent), filename=target.name)


def fetch_medmnist(data_root: str | Path, dataset: str, image_size: int, mirror: str = "") -> Path:
    """The verified real file at data.root/<name>.npz: reused if its md5 matches, else downloaded and checked."""
    url, md5 = official_source(dataset, image_size)
    target = paths.user_npz(data_root, dataset, image_size)
    if mirror:
        url = f"{mirror.rstrip('/')}/{target.name}"
    if target.is_file():
        got = md5_file(target)
        if got == md5:
            log.info("%s: md5 %s verified, no download needed", target, md5)
            return target
        log.warning("%s: md5 %s, expected %s; downloading it again from %s", target, got, md5, url)
    log.info("downloading %s -> %s", url, target)
    with atomic_file(target) as staged:  # renamed to target only once its md5 is verified
        try:
            _fetch(url, staged)
        except Exception as exc:  # noqa: BLE001 - urllib/http/OS/torchvision errors all mean the same: no file
            raise DataError(
                f"data.source=medmnist: could not download {target.name} from {url} ({type(exc).__name__}: {exc}). "
                f"Expected md5 {md5}. Fix: copy {target.name} (md5 {md5}) to {target} "
                f"and run again, or use the offline synthetic twin: `dvc exp run -S data.source=synthetic` "
                f"(or set data.source: synthetic in params.yaml).") from None
        got = md5_file(staged)
        if got != md5:
            raise DataError(f"{url}: downloaded file has md5 {got}, expected {md5}; deleted it. "
                            f"Check data.mirror ({mirror or 'unset'}) or copy the official {target.name} to {target}.")
    return target


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link src to dst (no second copy on disk), or copy when linking is impossible (other filesystem)."""
    with atomic_file(dst) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def run_download(cfg: Config, dataset: str) -> Path:
    """Write data.root/<dataset>/<medmnist file name> from the configured source; returns its path."""
    cfg.dataset(dataset)
    size = cfg.data.image_size
    out_dir = paths.raw_dir(cfg.data.root, dataset)
    out = paths.raw_npz(cfg.data.root, dataset, size)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.iterdir():  # the folder holds exactly one file, as medmnist expects
        if stale != out:
            stale.unlink() if stale.is_file() else shutil.rmtree(stale)
    if cfg.data.source == "synthetic":
        write_synthetic(out, dataset, size, cfg.data.synthetic.scale, cfg.seed)
    else:
        _link_or_copy(fetch_medmnist(cfg.data.root, dataset, size, cfg.data.mirror), out)
    log.info("download@%s: wrote %s (source %s)", dataset, out, cfg.data.source)
    return out
