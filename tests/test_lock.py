"""requirements.lock: it matches pyproject.toml (runtime + dev + simulation extras) and the venv holds exactly its versions.

The lock is `uv pip compile` output (`make lock`): `name==version` lines, each followed by `# via` lines naming
what requires it; "fedforge (pyproject.toml)" marks a direct requirement.
"""
from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def read_lock() -> tuple[dict[str, str], set[str]]:
    """(canonical name -> pinned version, names pyproject.toml requires directly) from requirements.lock."""
    pins, direct, current = {}, set(), None
    for line in LOCK.read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match[1])
            pins[current] = match[2]
        elif current and "fedforge (pyproject.toml)" in line:
            direct.add(current)
    return pins, direct


def pyproject_requirements() -> list[Requirement]:
    """The runtime dependencies plus the dev, simulation and docs extras: what the lock covers."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + extras["dev"] + extras["simulation"] + extras["docs"]]


def test_lock_matches_pyproject():
    """Every requirement is pinned within its range, and every direct pin is still required (no stale entry)."""
    pins, direct = read_lock()
    requirements = pyproject_requirements()
    outside = {str(r): pins.get(canonicalize_name(r.name)) for r in requirements
               if not r.specifier.contains(pins.get(canonicalize_name(r.name), "0"), prereleases=True)
               or canonicalize_name(r.name) not in pins}
    assert outside == {}, "pyproject.toml changed: run `make lock`"
    assert direct == {canonicalize_name(r.name) for r in requirements}, "pyproject.toml changed: run `make lock`"


def test_lock_pins_the_platform_torch_pair():
    """torch and torchvision are the pair constraints.txt names (the newest torch is not installable here)."""
    pins, _ = read_lock()
    assert (pins["torch"], pins["torchvision"]) == ("2.14.1", "0.29.1")


def test_installed_versions_are_the_locked_ones():
    """`make setup` installed exactly the lock (a local build label such as +cu130 is the same release)."""
    pins, _ = read_lock()
    wrong = {}
    for name, pinned in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed is None or Version(installed).public != Version(pinned).public:
            wrong[name] = (pinned, installed)
    assert wrong == {}, "the venv differs from requirements.lock: run `make setup`"
