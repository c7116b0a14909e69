"""Checkpoints: atomic round trip, resumed only for the same inputs and only if the run did not complete."""
from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord

from fedforge.fl import checkpoint
from tests.fl.conftest import tiny_config


def _ckpt(fp: str, completed: bool = False) -> checkpoint.Checkpoint:
    arrays = ArrayRecord({"w": Array(np.arange(6, dtype=np.float32).reshape(2, 3)), "n": Array(np.array(3))})
    return checkpoint.Checkpoint(round=2, arrays=arrays, strategy_state={"m_t/w": np.ones((2, 3))},
                                 rows=[{"round": 1}, {"round": 2}], fingerprint=fp, completed=completed)


def test_round_trip_and_fingerprint_gate(tmp_path):
    checkpoint.save(tmp_path, _ckpt("abc"))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]  # no temp file left behind
    back = checkpoint.load(tmp_path, "abc")
    assert back.round == 2 and back.rows == [{"round": 1}, {"round": 2}]
    assert list(back.arrays.keys()) == ["w", "n"]
    np.testing.assert_array_equal(back.arrays["w"].numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(back.strategy_state["m_t/w"], np.ones((2, 3)))
    assert checkpoint.load(tmp_path, "other-params") is None


def test_completed_or_corrupt_checkpoints_start_fresh(tmp_path):
    checkpoint.save(tmp_path, _ckpt("abc", completed=True))
    assert checkpoint.load(tmp_path, "abc") is None
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip")
    assert checkpoint.load(tmp_path, "abc") is None


def test_fingerprint_follows_phase_params_and_data(tiny_repo):
    base = checkpoint.fingerprint(tiny_config(), "T", tiny_repo)
    assert base == checkpoint.fingerprint(tiny_config(), "T", tiny_repo)
    assert base != checkpoint.fingerprint(tiny_config(lr=0.02), "T", tiny_repo)
    meta = tiny_repo / "artifacts/preprocessed/bloodmnist/clients/meta.json"
    meta.write_text(meta.read_text().replace("synthetic", "medmnist"))
    assert base != checkpoint.fingerprint(tiny_config(), "T", tiny_repo)
