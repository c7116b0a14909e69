"""FedYogi, FedAdagrad, FedMedian and FedTrimmedAvg: each runs, and a phase interrupted after round 1 resumes
from its checkpoint (server state included) to exactly the bytes of an uninterrupted run."""
from __future__ import annotations

import pytest

from fedforge.fl import appconfig, engine, server, strategies
from tests.fl.conftest import tiny_config, write_tiny_data

OUT = "artifacts/federated/T"
PHASES = {"fedyogi": {"server_lr": 0.01}, "fedadagrad": {"server_lr": 0.01}, "fedmedian": {},
          "fedtrimmedavg": {"trim_beta": 0.34}}
STATEFUL = {"fedyogi", "fedadagrad"}  # m_t / v_t go into the checkpoint


class Interrupted(Exception):
    """Stands in for a kill right after a round's checkpoint is written."""


def run(root, strategy: str) -> None:
    cfg = tiny_config(strategy=strategy, rounds=3, **PHASES[strategy])
    engine.run_local(appconfig.app_config(cfg, "T", "local", repo_root=root))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(PHASES))
def test_strategy_runs_and_resumes_to_the_same_bytes(tmp_path, monkeypatch, strategy):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    write_tiny_data(reference)
    write_tiny_data(resumed)
    run(reference, strategy)

    save = server.PhaseRun._save_checkpoint
    saved_states = []

    def save_then_die(self, completed):
        save(self, completed)
        saved_states.append(strategies.strategy_state(self.strategy))
        raise Interrupted

    monkeypatch.setattr(server.PhaseRun, "_save_checkpoint", save_then_die)
    with pytest.raises(Interrupted):
        run(resumed, strategy)
    monkeypatch.setattr(server.PhaseRun, "_save_checkpoint", save)
    assert bool(saved_states[0]) == (strategy in STATEFUL)
    run(resumed, strategy)

    for name in ("metrics.json", "rounds.tsv", "model/model.safetensors"):
        assert (resumed / OUT / name).read_bytes() == (reference / OUT / name).read_bytes(), name
    assert (reference / OUT / "rounds.tsv").read_text().count("\n") == 4  # header + 3 rounds
