"""Array and file helpers shared by the data stages: byte-reproducible writes, streaming reads, loaders.

Why not np.savez / np.save of whole arrays: np.savez stamps the current time into the zip, which would break
bit-for-bit reproducible DVC outputs; and streaming row chunks keeps peak memory flat at any image size.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Self

import numpy as np

from fedforge.errors import MissingInputError

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamp for every npz member, so identical data = identical bytes


def _header(shape: tuple[int, ...], dtype: np.dtype) -> dict:
    return {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}


def _write_chunks(f, shape: tuple[int, ...], dtype: np.dtype, chunks: Iterable[np.ndarray], name: str) -> None:
    np.lib.format.write_array_header_1_0(f, _header(shape, dtype))
    rows = 0
    for chunk in chunks:
        f.write(np.ascontiguousarray(chunk, dtype=dtype).data)
        rows += len(chunk)
    if rows != shape[0]:
        raise ValueError(f"{name}: wrote {rows} rows, header says {shape[0]}")


def write_npz(path: str | Path, members: dict[str, tuple[tuple[int, ...], np.dtype, Iterable[np.ndarray]]]) -> Path:
    """Stream arrays (key -> (shape, dtype, row chunks)) into an uncompressed .npz, atomically and reproducibly."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for key, (shape, dtype, chunks) in members.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
                with zf.open(info, "w", force_zip64=True) as f:
                    _write_chunks(f, shape, dtype, chunks, f"{path.name}:{key}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class NpyWriter:
    """Write one .npy chunk by chunk with plain file writes (a memmap's dirty pages would count as RSS).

    Usage: `with NpyWriter(path, shape, dtype) as w: w.write(chunk)`; the file appears (os.replace) only when
    all rows arrived, so a crash never leaves a half-written array.
    """

    def __init__(self, path: str | Path, shape: tuple[int, ...], dtype: np.dtype):
        self.path, self.shape, self.dtype = Path(path), tuple(shape), np.dtype(dtype)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.rows = 0

    def __enter__(self) -> Self:
        self.file = open(self.tmp, "wb")
        np.lib.format.write_array_header_1_0(self.file, _header(self.shape, self.dtype))
        return self

    def write(self, chunk: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(chunk, dtype=self.dtype).data)
        self.rows += len(chunk)

    def __exit__(self, exc_type, exc, tb) -> None:
        self.file.close()
        if exc_type is None and self.rows != self.shape[0]:
            self.tmp.unlink(missing_ok=True)
            raise ValueError(f"{self.path}: wrote {self.rows} rows, expected {self.shape[0]}")
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def npz_keys(path: str | Path) -> list[str]:
    """Array names in an .npz without loading any of them."""
    with zipfile.ZipFile(path) as zf:
        return [n[:-4] for n in zf.namelist() if n.endswith(".npy")]


def _open_member(zf: zipfile.ZipFile, key: str):
    f = zf.open(f"{key}.npy")
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(f)
    if fortran_order:
        raise ValueError(f"{key}: Fortran-ordered arrays are not supported")
    return f, shape, dtype


def npz_info(path: str | Path, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of one array in an .npz, read from its header only."""
    with zipfile.ZipFile(path) as zf:
        f, shape, dtype = _open_member(zf, key)
        f.close()
    return shape, dtype


def iter_npz_rows(path: str | Path, key: str, chunk_rows: int) -> Iterator[np.ndarray]:
    """Yield consecutive row blocks of one .npz array, so a pass over a huge split needs one chunk of memory."""
    with zipfile.ZipFile(path) as zf:
        f, shape, dtype = _open_member(zf, key)
        with f:
            row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
            for start in range(0, shape[0], chunk_rows):
                n = min(chunk_rows, shape[0] - start)
                yield np.frombuffer(f.read(n * row_bytes), dtype=dtype).reshape((n, *shape[1:]))


def read_npz_array(path: str | Path, key: str) -> np.ndarray:
    """One array of an .npz (labels are small; images go through iter_npz_rows)."""
    with np.load(path) as npz:
        return npz[key]


def md5_file(path: str | Path, block: int = 1 << 20) -> str:
    """md5 hex digest of a file (MedMNIST publishes md5s)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while data := f.read(block):
            h.update(data)
    return h.hexdigest()



def read_meta(folder: str | Path) -> dict:
    """meta.json of a preprocessed folder (central/ or clients/)."""
    return json.loads((Path(folder) / "meta.json").read_text())


def load_split(folder: str | Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a preprocessed split, memory-mapped: name is train/val/test in central/, client_<i>_train in clients/."""
    folder = Path(folder)
    x, y = folder / f"{name}_x.npy", folder / f"{name}_y.npy"
    if not x.is_file() or not y.is_file():
        raise MissingInputError(f"{x} / {y}: missing; run `dvc repro preprocess` (or `fedforge preprocess -d <dataset>`)")
    return np.load(x, mmap_mode="r"), np.load(y, mmap_mode="r")
