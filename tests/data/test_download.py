"""download@<dataset>: the synthetic source, and the real-MedMNIST code path against a local HTTP server."""
from __future__ import annotations

import contextlib
import functools
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from fedforge import config, paths
from fedforge.data import DataError, medmnist_info
from fedforge.data.arrays import md5_file
from fedforge.data.download import official_source, run_download
from fedforge.data.synthetic import write_synthetic
from tests.conftest import tiny_params_dict


@contextlib.contextmanager
def serve(folder: Path):
    """A static HTTP server on 127.0.0.1 (random port) serving `folder`; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """A URL nothing listens on: connection refused at once, like being offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def real_config(mirror: str, image_size: int = 28):
    return config.parse(tiny_params_dict(**{"data.source": "medmnist", "data.mirror": mirror,
                                            "data.image_size": image_size}))


@pytest.fixture
def fake_release(tmp_path, monkeypatch):
    """A MedMNIST-format bloodmnist.npz on a 'mirror' folder, registered as the official md5 for this test."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    path = write_synthetic(mirror / "bloodmnist.npz", "bloodmnist", 28, 0.02, seed=7)
    monkeypatch.setitem(medmnist_info("bloodmnist"), "MD5", md5_file(path))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return path


def test_synthetic_source_writes_one_medmnist_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.parse(tiny_params_dict())
    out_dir = paths.raw_dir(cfg.data.root, "bloodmnist")
    out_dir.mkdir(parents=True)
    (out_dir / "bloodmnist_64.npz").write_text("stale")  # from an earlier image size
    out = run_download(cfg, dataset="bloodmnist")
    assert out == paths.raw_npz(cfg.data.root, "bloodmnist", 28)
    assert sorted(p.name for p in out_dir.iterdir()) == ["bloodmnist.npz"]
    with np.load(out) as npz:
        assert npz["train_images"].shape[1:] == (28, 28, 3)


def test_image_size_picks_medmnist_file_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.parse(tiny_params_dict(**{"data.image_size": 64, "data.synthetic.scale": 0.005}))
    assert run_download(cfg, dataset="dermamnist").name == "dermamnist_64.npz"
    url, md5 = official_source("dermamnist", 64)
    assert "dermamnist_64.npz" in url and md5 == medmnist_info("dermamnist")["MD5_64"]


def test_real_source_downloads_verifies_and_links(fake_release):
    with serve(fake_release.parent) as url:
        out = run_download(real_config(url), dataset="bloodmnist")
    user_copy = paths.user_npz("data/medmnist", "bloodmnist", 28)
    assert md5_file(out) == md5_file(user_copy) == md5_file(fake_release)
    assert sorted(p.name for p in Path("data/medmnist").iterdir()) == ["bloodmnist", "bloodmnist.npz"]


def test_verified_local_file_needs_no_network(fake_release):
    user_copy = paths.user_npz("data/medmnist", "bloodmnist", 28)
    user_copy.parent.mkdir(parents=True)
    user_copy.write_bytes(fake_release.read_bytes())
    out = run_download(real_config(closed_port_url()), dataset="bloodmnist")
    assert md5_file(out) == md5_file(fake_release)


def test_offline_without_file_names_file_url_md5_and_both_fixes(fake_release):
    url = closed_port_url()
    with pytest.raises(DataError) as err:
        run_download(real_config(url), dataset="bloodmnist")
    message = str(err.value)
    md5 = medmnist_info("bloodmnist")["MD5"]
    for text in ("bloodmnist.npz", f"{url}/bloodmnist.npz", md5, "data/medmnist/bloodmnist.npz",
                 "data.source=synthetic"):
        assert text in message
    assert not Path("data/medmnist/bloodmnist/bloodmnist.npz").exists()


def test_corrupt_download_never_becomes_an_output(fake_release, monkeypatch):
    monkeypatch.setitem(medmnist_info("bloodmnist"), "MD5", "0" * 32)  # the served file no longer matches
    with serve(fake_release.parent) as url, pytest.raises(DataError, match="expected 0{32}"):
        run_download(real_config(url), dataset="bloodmnist")
    leftovers = [p for p in Path("data").rglob("*") if p.is_file()]
    assert leftovers == []


def test_wrong_md5_local_file_is_replaced_by_a_verified_download(fake_release):
    user_copy = paths.user_npz("data/medmnist", "bloodmnist", 28)
    user_copy.parent.mkdir(parents=True)
    user_copy.write_bytes(b"truncated")
    with serve(fake_release.parent) as url:
        run_download(real_config(url), dataset="bloodmnist")
    assert md5_file(user_copy) == md5_file(fake_release)
