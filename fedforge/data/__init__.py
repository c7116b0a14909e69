"""fedforge.data: MedMNIST sources (real download, synthetic twin), audit, partition, preprocess."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from fedforge.errors import UserError


class DataError(UserError, ValueError):
    """A data problem (bad file, failed download, unsatisfiable partition): the message names the fix."""


def _medmnist_info_module():
    # `import medmnist` runs its __init__, which imports torch and scikit-learn (3-8 s per stage process);
    # the INFO table lives in medmnist/info.py, which needs only the standard library, so load just that file.
    # Registered as sys.modules["medmnist.info"], so a later `import medmnist` shares the same INFO dict.
    if "medmnist.info" in sys.modules:
        return sys.modules["medmnist.info"]
    package = importlib.util.find_spec("medmnist")
    if package is None or not package.submodule_search_locations:
        raise DataError("the `medmnist` package is not installed; run `pip install -e .` (README: setup)")
    info_py = Path(next(iter(package.submodule_search_locations))) / "info.py"
    spec = importlib.util.spec_from_file_location("medmnist.info", info_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["medmnist.info"] = module
    return module


def medmnist_info(dataset: str) -> dict:
    """medmnist.INFO[dataset] (urls, md5s, label names, split sizes) without importing torch."""
    return _medmnist_info_module().INFO[dataset]


def label_names(dataset: str) -> list[str]:
    """Class names ordered by class index."""
    labels = medmnist_info(dataset)["label"]
    return [labels[str(k)] for k in range(len(labels))]
