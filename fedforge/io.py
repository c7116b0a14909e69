"""Atomic writes: every file or folder a stage publishes appears whole or not at all.

A reader (DVC, the monitor, a resumed run) never sees half a file: content goes to a temporary sibling
first and is renamed over the target with os.replace, which is atomic on one filesystem. Folders are
built in a temporary sibling and swapped in the same way. Same content always gives the same bytes
(sorted JSON keys, trailing newline), so DVC hashes stay stable.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` to write; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(folder: str | Path) -> Iterator[Path]:
    """Yield an empty temporary sibling folder; swap it in for `folder` only if the block succeeds."""
    folder = Path(folder)
    tmp, old = folder.with_name(f".{folder.name}.tmp"), folder.with_name(f".{folder.name}.old")
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, obj: object) -> Path:
    """Sorted, indented JSON with a trailing newline (same content = same bytes), atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_model(model, folder: str | Path) -> Path:
    """`model.save_pretrained` into a temporary folder, then swap it in: model/ is never half-written."""
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp)
    return Path(folder)
