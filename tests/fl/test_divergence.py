"""A diverging phase stops after that round with one clear line (exit 2), never a traceback from sklearn."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from flwr.app import Array, ArrayRecord

from fedforge.fl.server import PhaseDiverged, check_finite
from fedforge.train.metrics import classification_metrics
from tests.fl.conftest import REPO, tiny_raw

KNOBS = "lower phases.T.lr, phases.T.server_lr or phases.T.server_momentum and re-run"


def test_non_finite_logits_give_nan_metrics_without_sklearn():
    logits = np.array([[0.0, 1.0], [np.nan, 0.0], [np.inf, 0.0]])
    metrics = classification_metrics(logits, np.array([1, 0, 1]))
    assert sorted(metrics) == ["acc", "auc", "balanced_acc", "loss"]
    assert all(math.isnan(value) for value in metrics.values())


def test_check_finite_names_the_round_the_first_bad_array_and_the_knobs():
    arrays = ArrayRecord({"ok": Array(np.zeros(2, np.float32)), "bad.weight": Array(np.array([1.0, np.inf])),
                          "bn.num_batches_tracked": Array(np.array(3, np.int64))})
    with pytest.raises(PhaseDiverged) as err:
        check_finite("T", 4, arrays)
    assert str(err.value) == f"phase T diverged in round 4: NaN/inf in the global weights (1 arrays, first bad.weight); {KNOBS}"
    del arrays["bad.weight"]
    check_finite("T", 4, arrays, test_loss=0.5)  # finite: no error
    with pytest.raises(PhaseDiverged, match="in round 4: NaN/inf in the test loss \\(nan\\)"):
        check_finite("T", 4, arrays, test_loss=float("nan"))


@pytest.mark.slow
def test_federate_with_exploding_server_lr_stops_in_round_1_with_one_line(tiny_repo):
    raw = tiny_raw(strategy="fedavgm", server_lr=1e38, rounds=3)
    (tiny_repo / "params.yaml").write_text(yaml.safe_dump(raw))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "FEDFORGE_MONITOR_URL": ""}
    env.pop("FEDFORGE_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "fedforge.cli", "federate", "--phase", "T"], cwd=tiny_repo, check=False,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("fedforge federate: error: phase T diverged in round 1: NaN/inf in ")
    assert last.endswith(KNOBS)
    assert not (tiny_repo / "artifacts/federated/T/metrics.json").exists()
