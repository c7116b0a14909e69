"""Server side of one federated phase: resume, run the Flower strategy, close every round, write outputs.

Per round (Flower's Strategy.start calls evaluate_fn after aggregation and client evaluation):
evaluate the global model on the test split, append the rounds.tsv row, save the checkpoint, log the
round's wall seconds in timing.json, emit round_completed, then obey the run state (paused -> wait,
stopped -> raise; the checkpoint is on disk). At the end: val once, model/, metrics.json (test = the
last round's), the completed checkpoint. Wall time goes to timing.json and telemetry only, so rounds.tsv,
metrics.json, model/ and checkpoint.npz are byte-identical for the same params and data.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from flwr.app import ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid

from fedforge import io, paths
from fedforge.data.arrays import read_meta
from fedforge.errors import UserError
from fedforge.fl import appconfig, checkpoint, classifier, privacy, results, strategies, task
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


class PhaseDiverged(UserError, RuntimeError):
    """NaN/inf in the aggregated global weights or the round's test loss; the message names the knobs to lower."""


def check_finite(phase: str, rnd: int, arrays, test_loss: float | None = None) -> None:
    """Raise PhaseDiverged when round `rnd` left non-finite global weights or test loss (the phase stops)."""
    bad = [key for key, array in arrays.items() if not np.isfinite(array.numpy()).all()]
    if not bad and (test_loss is None or np.isfinite(test_loss)):
        return
    where = f"the global weights ({len(bad)} arrays, first {bad[0]})" if bad else f"the test loss ({test_loss})"
    raise PhaseDiverged(f"phase {phase} diverged in round {rnd}: NaN/inf in {where}; lower phases.{phase}.lr, "
                        f"phases.{phase}.server_lr or phases.{phase}.server_momentum and re-run")


def run_server(grid: Grid, context: Context) -> None:
    """ServerApp main: run the phase named in run_config on whatever Grid Flower (or our engine) gives."""
    cfg, phase, repo_root, engine = appconfig.from_run_config(context.run_config)
    PhaseRun(grid, cfg, phase, repo_root, engine).run()


class PhaseRun:
    """One attempt at a phase on one grid (a resumed attempt continues the rounds of a killed one).

    Every attribute is set in __init__; the round state (arrays, done, rows, round_seconds, client_seconds)
    changes only in _end_round, so the checkpoint and the files written after each round always agree.
    """

    def __init__(self, grid: Grid, cfg, phase: str, repo_root: Path, engine: str):
        self.cfg, self.phase_name, self.repo_root, self.engine = cfg, phase, Path(repo_root), engine
        self.pc = cfg.phase(phase)
        self.out_dir = self.repo_root / paths.federated_dir(phase)
        self.ckpt_dir = self.repo_root / paths.checkpoint_dir(phase)
        self.device = runtime_device(cfg)
        self.model = task.initial_model(cfg, self.pc, self.repo_root)
        privacy.check_model(self.model, self.pc, phase)
        self.test_ds = task.central_split(self.repo_root, self.pc.dataset, "test")
        self.meta = read_meta(self.repo_root / paths.preprocessed_central_dir(self.pc.dataset))
        self.client_ids = [paths.client_id(i) for i in range(cfg.partition.num_clients)]
        self.fingerprint = checkpoint.fingerprint(cfg, phase, self.repo_root)
        resumed = checkpoint.load(self.ckpt_dir, self.fingerprint)
        self.resumed_from = resumed.round if resumed else 0
        self.done = self.resumed_from
        self.arrays = resumed.arrays if resumed else task.get_arrays(self.model)
        self.rows: list[dict] = list(resumed.rows) if resumed else []
        self.round_seconds = results.logged_round_seconds(self.out_dir / "timing.json", self.resumed_from)
        self.client_seconds = 0.0  # summed client train + evaluate seconds of this attempt (timing.json)
        self.privacy = privacy.PhasePrivacy(self.pc, cfg.partition.num_clients, resumed.privacy if resumed else None)
        self.strategy = self.privacy.build_strategy(cfg.seed, round_offset=self.resumed_from)
        self.strategy.use_batchnorm(self.pc.bn, cfg.partition.num_clients, self.rows, cfg.federation.round_timeout)
        if resumed:
            strategies.load_strategy_state(self.strategy, resumed.strategy_state)
        events = self.out_dir / "events.jsonl"
        if resumed is None:
            events.unlink(missing_ok=True)  # a fresh run starts a fresh replay log; a resumed one appends
        self.run_id = f"{phase}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        token = read_token(self.repo_root / paths.monitor_db())
        self.telemetry = Telemetry(self.run_id, phase, events, url=cfg.monitor.url, token=token)
        self.control = RunControl(self.cfg.monitor.url, self.run_id)
        self.observer = ObservedGrid(grid, self.telemetry, self.pc.min_clients, cfg.federation.round_timeout)
        self.started = time.perf_counter()  # this attempt's wall clock (timing.json)

    def _global_metrics(self, arrays, ds) -> dict:
        task.set_arrays(self.model, arrays)
        metrics = task.evaluate(self.model, ds, batch_size=self.pc.batch_size, device=self.device)
        return {k: metrics[k] for k in METRIC_KEYS}

    def run(self) -> None:
        """Run the remaining rounds and write the outputs; run_finished tells the monitor how it ended."""
        beat = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(beat,), name=f"heartbeat-{self.run_id}", daemon=True)
        heart.start()
        try:
            self._run()
            self._finish()
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

    def _run(self) -> None:
        pc = self.pc
        self.telemetry.emit("heartbeat", node="server", state="idle")
        clients = self.observer.describe(self.cfg.partition.num_clients)
        histograms = {c: v["label_histogram"] for c, v in clients.items()}
        if pc.classifier == "per_class":
            self.strategy.use_per_class_classifier(classifier.classifier_keys(self.model), histograms)
        self.telemetry.emit(
            "run_started", dataset=pc.dataset, data_source=self.meta.get("data_source", "synthetic"),
            strategy=pc.strategy, num_rounds=pc.rounds, start_round=self.done + 1, engine=self.engine,
            clients=list(clients), partition_sizes={c: v["size"] for c, v in clients.items()},
            label_histograms=histograms,
            params=privacy.flat_params(pc.model_dump()))
        if self.rows:  # DVC deletes rounds.tsv before re-running a stage; the checkpoint's rows restore it
            results.write_rounds_tsv(self.out_dir / "rounds.tsv", self.rows, self.client_ids)
        if self.done >= pc.rounds:
            return
        train_config = ConfigRecord({"lr": pc.lr, "local-epochs": pc.local_epochs, "local-steps": pc.local_steps,
                                     "batch-size": pc.batch_size,
                                     "weight-decay": pc.weight_decay, "seed": self.cfg.seed})
        with self.privacy.budget_guard():  # dp.max_epsilon reached: a clean end after the last round within it
            self.privacy.check_budget(self._sizes())
            self.strategy.start(grid=self.observer, initial_arrays=self.arrays, num_rounds=pc.rounds - self.done,
                                timeout=self.cfg.federation.round_timeout, train_config=train_config,
                                evaluate_config=ConfigRecord({}), evaluate_fn=self._end_round)

    def _end_round(self, server_round: int, arrays) -> MetricRecord | None:
        """Flower's evaluate_fn, called after each round: test the global model and close the round."""
        if server_round == 0:
            return None  # strategy.start evaluates the initial arrays too; we only report completed rounds
        rnd = server_round + self.strategy.round_offset
        check_finite(self.phase_name, rnd, arrays)
        stats = self.observer.rounds.get(rnd, RoundStats(rnd))
        local = self.pc.bn == "local"  # then only the hospitals can evaluate their models (own BatchNorm)
        test = results.hospital_models_mean(stats.evaluate, "test") if local else self._global_metrics(arrays, self.test_ds)
        check_finite(self.phase_name, rnd, arrays, test["loss"])
        seconds = round(time.perf_counter() - stats.started, 3)
        row = self._row(rnd, test, stats)
        if local:  # kept in the checkpoint's rows (not a rounds.tsv column) for metrics.json's val
            row["hospital_models_val"] = results.hospital_models_mean(stats.evaluate, "val")
        client_epsilons = self.privacy.end_round(stats.train)
        if self.pc.dp.mode != "none":
            row[results.EPSILON_COLUMN] = self.privacy.epsilon()
        self.arrays, self.done = arrays, rnd
        self.rows.append(row)
        self.round_seconds.append({"round": rnd, "seconds": seconds})
        self.client_seconds += sum(float(m.get("seconds", 0.0))
                                   for m in [*stats.train.values(), *stats.evaluate.values()])
        results.write_rounds_tsv(self.out_dir / "rounds.tsv", self.rows, self.client_ids)
        self._save_checkpoint(completed=False)
        self._write_timing()
        self.telemetry.emit("round_completed", round=rnd, metrics=test, train_loss=row["train_loss_mean"],
                            clients_ok=row["clients_ok"], clients_failed=row["clients_failed"],
                            num_examples=row["num_examples"], seconds=seconds,
                            bytes_down=row["bytes_down"], bytes_up=row["bytes_up"],
                            epsilon=row.get(results.EPSILON_COLUMN), client_epsilons=client_epsilons,
                            **{col: row[col] for col in results.HOSPITAL_COLUMNS})
        log.info("round %d/%d: test acc %.4f auc %.4f loss %.4f (%s failed)", rnd, self.pc.rounds, test["acc"],
                 test["auc"], test["loss"], ",".join(row["clients_failed"]) or "none")
        self.privacy.check_budget(self._sizes())  # dp.mode sample: ends the phase here if the next round is over
        if self.control.wait_if_paused() == "stopped":
            raise StopRequested(f"phase {self.phase_name} stopped from the monitor after round {rnd}; "
                                f"the checkpoint is saved, `dvc repro federate@{self.phase_name}` resumes it")
        return MetricRecord(test)

    @staticmethod
    def _row(rnd: int, test: dict, stats: RoundStats) -> dict:
        """The rounds.tsv row of a round: global test metrics, client outcomes and traffic (no wall time)."""
        ok = sorted(stats.train)
        weights = {c: float(stats.train[c].get("num-examples", 0)) for c in ok}
        total = sum(weights.values())
        mean = sum(weights[c] * float(stats.train[c]["train_loss"]) for c in ok) / total if total else None
        hospitals = results.hospital_summary(stats.evaluate)
        row = {"round": rnd, **{f"test_{k}": test[k] for k in METRIC_KEYS}, "train_loss_mean": mean,
               **{col: hospitals[k] for col, k in zip(results.HOSPITAL_COLUMNS, results.HOSPITAL_KEYS, strict=True)},
               "clients_ok": ok, "clients_failed": sorted(stats.failed), "num_examples": int(total),
               "bytes_down": stats.bytes_down, "bytes_up": stats.bytes_up}
        row.update({f"{results.CLIENT_LOSS_PREFIX}{c}": float(stats.train[c]["train_loss"]) for c in ok})
        return row

    def _save_checkpoint(self, completed: bool) -> None:
        checkpoint.save(self.ckpt_dir, checkpoint.Checkpoint(
            round=self.done, arrays=self.arrays, strategy_state=strategies.strategy_state(self.strategy),
            rows=self.rows, fingerprint=self.fingerprint, completed=completed, privacy=self.privacy.state()))

    def _sizes(self) -> dict[str, int]:
        """Training-set size of each connected hospital (its describe reply)."""
        return {client: int(info["size"]) for client, info in self.observer.clients.items()}

    def _write_timing(self) -> None:
        results.write_timing(self.out_dir / "timing.json", wall=time.perf_counter() - self.started,
                             client_seconds=self.client_seconds, engine=self.engine,
                             start_round=self.resumed_from + 1, rounds_run=self.done - self.resumed_from,
                             round_seconds=self.round_seconds)

    def _finish(self) -> None:
        """Final outputs. Test metrics are the last round's (same arrays; not evaluated again); val once, here."""
        last = self.rows[-1] if self.rows else None  # None: the privacy budget allowed no round
        test = {k: last[f"test_{k}"] for k in METRIC_KEYS} if last else self._global_metrics(self.arrays, self.test_ds)
        hospitals = {k: last[col] if last else None  # last round, each client's val
                     for col, k in zip(results.HOSPITAL_COLUMNS, results.HOSPITAL_KEYS, strict=True)}
        local = {}
        if self.pc.bn == "local":  # each hospital saved its own model (model/client_<i>/) and reported its metrics
            val = last["hospital_models_val"] if last else None
            local = {"bn": "local", "test_is": "unweighted mean over hospitals of their own models "
                                               "(global weights + the hospital's BatchNorm, model/client_<i>/)"}
        else:
            val = self._global_metrics(self.arrays, task.central_split(self.repo_root, self.pc.dataset, "val"))
            task.set_arrays(self.model, self.arrays)
            io.save_model(self.model, self.out_dir / "model")
        io.write_json(self.out_dir / "metrics.json", {
            "test": test, "val": val, "clients": hospitals, "rounds": self.done, "dataset": self.pc.dataset,
            "strategy": self.pc.strategy, "data_source": self.meta.get("data_source", "synthetic"),
            "engine": self.engine, "device": self.device, **local, **self.privacy.report()})
        self._write_timing()
        self._save_checkpoint(completed=True)
        self._emit_finished("completed", metrics=test)

    def _emit_finished(self, status: str, metrics: dict | None = None, error: str | None = None) -> None:
        self.telemetry.emit("run_finished", status=status, rounds_completed=self.done, metrics=metrics or {},
                            error=error[:4000] if error else None)


__all__ = ["PhaseDiverged", "PhaseFailed", "PhaseRun", "StopRequested", "run_server"]
