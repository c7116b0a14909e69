"""Server side of one federated phase: resume, run the Flower strategy, close every round, write outputs.

Per round (Flower's Strategy.start calls evaluate_fn after aggregation and client evaluation):
evaluate the global model on the test split, append the rounds.tsv row, save the checkpoint, emit
round_completed, then obey the run state (paused -> wait, stopped -> raise; the checkpoint is on disk).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

from flwr.app import ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid

from fedforge import io, paths
from fedforge.data.arrays import read_meta
from fedforge.errors import UserError
from fedforge.fl import appconfig, checkpoint, privacy, results, strategies, task
from fedforge.fl.observe import ObservedGrid, PhaseFailed, RoundStats
from fedforge.monitor.client.control import RunControl
from fedforge.monitor.client.telemetry import Telemetry
from fedforge.monitor.client.token import read_token
from fedforge.train.device import runtime_device
from fedforge.train.metrics import METRIC_KEYS

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5.0


class StopRequested(UserError, RuntimeError):
    """The user stopped the run from the monitor; the checkpoint of the last round is saved."""


def run_server(grid: Grid, context: Context) -> None:
    """ServerApp main: run the phase named in run_config on whatever Grid Flower (or our engine) gives."""
    cfg, phase, root, engine = appconfig.from_run_config(context.run_config)
    PhaseRun(cfg, phase, root, engine).run(grid)


class PhaseRun:
    """One attempt at a phase (a resumed attempt continues the rounds of a killed one)."""

    def __init__(self, cfg, phase: str, root: Path, engine: str):
        self.cfg, self.phase_name, self.root, self.engine = cfg, phase, Path(root), engine
        self.pc = cfg.phase(phase)
        self.out_dir = self.root / paths.federated_dir(phase)
        self.ckpt_dir = self.root / paths.checkpoint_dir(phase)
        self.device = runtime_device(cfg)
        self.model = task.initial_model(cfg, self.pc, self.root)
        privacy.check_model(self.model, self.pc, phase)
        self.test_ds = task.central_split(self.root, self.pc.dataset, "test")
        self.meta = read_meta(self.root / paths.preprocessed_central_dir(self.pc.dataset))
        self.fingerprint = checkpoint.fingerprint(cfg, phase, self.root)
        self.client_seconds = 0.0

    def _global_metrics(self, arrays, ds) -> dict:
        task.set_arrays(self.model, arrays)
        metrics = task.evaluate(self.model, ds, batch_size=self.pc.batch_size, device=self.device)
        return {k: metrics[k] for k in METRIC_KEYS}

    def run(self, grid: Grid) -> None:
        started = time.perf_counter()
        resumed = checkpoint.load(self.ckpt_dir, self.fingerprint)
        events = self.out_dir / "events.jsonl"
        if resumed is None:
            events.unlink(missing_ok=True)  # a fresh run starts a fresh replay log; a resumed one appends
        self.arrays = resumed.arrays if resumed else task.get_arrays(self.model)
        self.rows = list(resumed.rows) if resumed else []
        self.done = resumed.round if resumed else 0
        self.resumed_from = self.done
        run_id = f"{self.phase_name}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        token = read_token(self.root / paths.monitor_db())
        self.telemetry = Telemetry(run_id, self.phase_name, events, url=self.cfg.monitor.url, token=token)
        self.control = RunControl(self.cfg.monitor.url, run_id)
        beat = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(beat,), name=f"heartbeat-{run_id}", daemon=True)
        heart.start()
        try:
            self._run(grid, resumed)
            self._finish(started)
        except StopRequested as exc:
            self._emit_finished("stopped", error=str(exc))
            raise
        except BaseException as exc:
            self._emit_finished("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            beat.set()
            heart.join(timeout=5)
            self.telemetry.close()

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            self.telemetry.emit("heartbeat", node="server", state="idle")

    def _run(self, grid: Grid, resumed) -> None:
        pc = self.pc
        self.observer = ObservedGrid(grid, self.telemetry, pc.min_clients, self.cfg.federation.round_timeout)
        self.telemetry.emit("heartbeat", node="server", state="idle")
        clients = self.observer.describe(self.cfg.partition.num_clients)
        self.client_ids = [paths.client_id(i) for i in range(self.cfg.partition.num_clients)]
        self.telemetry.emit(
            "run_started", dataset=pc.dataset, data_source=self.meta.get("data_source", "synthetic"),
            strategy=pc.strategy, num_rounds=pc.rounds, start_round=self.done + 1, engine=self.engine,
            clients=list(clients), partition_sizes={c: v["size"] for c, v in clients.items()},
            label_histograms={c: v["label_histogram"] for c, v in clients.items()},
            params=privacy.flat_params(pc.model_dump()))
        self.privacy = privacy.PhasePrivacy(pc, self.cfg.partition.num_clients, resumed.privacy if resumed else None)
        self.strategy = self.privacy.build_strategy(self.cfg.seed, round_offset=self.done)
        if resumed:
            strategies.load_strategy_state(self.strategy, resumed.strategy_state)
        if self.done >= pc.rounds:
            return
        train_config = ConfigRecord({"lr": pc.lr, "local-epochs": pc.local_epochs, "local-steps": pc.local_steps,
                                     "batch-size": pc.batch_size,
                                     "weight-decay": pc.weight_decay, "seed": self.cfg.seed})
        with self.privacy.budget_guard():
            self.privacy.check_budget(self._sizes())
            self.strategy.start(grid=self.observer, initial_arrays=self.arrays, num_rounds=pc.rounds - self.done,
                                timeout=self.cfg.federation.round_timeout, train_config=train_config,
                                evaluate_config=ConfigRecord({}), evaluate_fn=self._end_round)

    def _end_round(self, server_round: int, arrays) -> MetricRecord | None:
        """Flower's evaluate_fn, called after each round: test the global model and close the round."""
        if server_round == 0:
            return None  # strategy.start evaluates the initial arrays too; we only report completed rounds
        rnd = server_round + self.strategy.round_offset
        self.arrays = arrays
        test = self._global_metrics(arrays, self.test_ds)
        stats = self.observer.rounds.get(rnd, RoundStats(rnd))
        row = self._row(rnd, test, stats)
        client_epsilons = self.privacy.end_round(stats.train)
        row["epsilon"] = self.privacy.epsilon()
        self.rows.append(row)
        self.done = rnd
        results.write_rounds_tsv(self.out_dir / "rounds.tsv", self.rows, self.client_ids)
        checkpoint.save(self.ckpt_dir, checkpoint.Checkpoint(
            round=rnd, arrays=arrays, strategy_state=strategies.strategy_state(self.strategy), rows=self.rows,
            fingerprint=self.fingerprint, privacy=self.privacy.state()))
        self.telemetry.emit("round_completed", round=rnd, metrics=test, train_loss=row["train_loss_mean"],
                            clients_ok=row["clients_ok"], clients_failed=row["clients_failed"],
                            num_examples=row["num_examples"], seconds=row["seconds"],
                            bytes_down=row["bytes_down"], bytes_up=row["bytes_up"], epsilon=row["epsilon"],
                            client_epsilons=client_epsilons)
        log.info("round %d/%d: test acc %.4f auc %.4f loss %.4f (%s failed)", rnd, self.pc.rounds, test["acc"],
                 test["auc"], test["loss"], ",".join(row["clients_failed"]) or "none")
        self.privacy.check_budget(self._sizes())  # dp.mode sample: ends the phase here if the next round is over
        if self.control.wait_if_paused() == "stopped":
            raise StopRequested(f"phase {self.phase_name} stopped from the monitor after round {rnd}; "
                                f"the checkpoint is saved, `dvc repro federate@{self.phase_name}` resumes it")
        return MetricRecord(test)

    def _sizes(self) -> dict[str, int]:
        """Training-set size of each connected hospital (its describe reply)."""
        return {client: int(info["size"]) for client, info in self.observer.clients.items()}

    def _row(self, rnd: int, test: dict, stats: RoundStats) -> dict:
        ok = sorted(stats.train)
        weights = {c: float(stats.train[c].get("num-examples", 0)) for c in ok}
        total = sum(weights.values())
        mean = sum(weights[c] * float(stats.train[c]["train_loss"]) for c in ok) / total if total else None
        self.client_seconds += sum(float(m.get("seconds", 0.0)) for m in stats.train.values())
        self.client_seconds += sum(float(m.get("seconds", 0.0)) for m in stats.evaluate.values())
        row = {"round": rnd, **{f"test_{k}": test[k] for k in METRIC_KEYS}, "train_loss_mean": mean,
               "clients_ok": ok, "clients_failed": sorted(stats.failed), "num_examples": int(total),
               "seconds": round(time.perf_counter() - stats.started, 3), "bytes_down": stats.bytes_down,
               "bytes_up": stats.bytes_up}
        row.update({f"train_loss.{c}": float(stats.train[c]["train_loss"]) for c in ok})
        return row

    def _finish(self, started: float) -> None:
        test = self._global_metrics(self.arrays, self.test_ds)
        val = self._global_metrics(self.arrays, task.central_split(self.root, self.pc.dataset, "val"))
        task.set_arrays(self.model, self.arrays)
        io.save_model(self.model, self.out_dir / "model")
        io.write_json(self.out_dir / "metrics.json", {
            "test": test, "val": val, "rounds": self.done, "dataset": self.pc.dataset, "strategy": self.pc.strategy,
            "data_source": self.meta.get("data_source", "synthetic"), "engine": self.engine, "device": self.device,
            **self.privacy.report()})
        results.write_rounds_tsv(self.out_dir / "rounds.tsv", self.rows, self.client_ids)
        wall = time.perf_counter() - started
        io.write_json(self.out_dir / "timing.json", {
            "seconds": round(wall, 3), "client_compute_seconds": round(self.client_seconds, 3),
            "overhead": round(wall / self.client_seconds, 4) if self.client_seconds else None,
            "engine": self.engine, "rounds_run": self.done - self.resumed_from})
        checkpoint.save(self.ckpt_dir, checkpoint.Checkpoint(
            round=self.done, arrays=self.arrays, strategy_state=strategies.strategy_state(self.strategy),
            rows=self.rows, fingerprint=self.fingerprint, completed=True, privacy=self.privacy.state()))
        self.final_metrics = test
        self._emit_finished("completed")

    def _emit_finished(self, status: str, error: str | None = None) -> None:
        metrics = getattr(self, "final_metrics", None) or {}
        self.telemetry.emit("run_finished", status=status, rounds_completed=self.done, metrics=metrics,
                            error=error[:4000] if error else None)


__all__ = ["PhaseFailed", "PhaseRun", "StopRequested", "run_server"]
