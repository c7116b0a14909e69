"""Privacy-utility table: phase A test ACC and epsilon per DP mode and noise multiplier, at 3 and 30 hospitals.

Runs phase A of params.yaml on the synthetic twin (small scale) with the GroupNorm CNN (DP needs GroupNorm; the
phase's `norm` override sets it), once without DP and once per (mode, noise multiplier), for each hospital
count, on the local engine, one run at a time. Phase A's own settings (2 local epochs, AdamW lr 0.002, FedAvg)
except `--rounds` and `--batch-size`: with phase A's batch of 64, a hospital of the 30 holds ~2 batches, too few
steps for even the no-DP model to learn in a few rounds. With `--log`, each finished run is appended there (JSON
lines) and skipped when the command runs again, so an interrupted table resumes. Writes the table to `--out`.

  .venv/bin/python benchmarks/privacy_utility.py --scale 0.15 --rounds 5 --batch-size 16 --hospitals 3,30 \\
      --noise 0.5,1.0 --out docs/figures/privacy_utility.md --log /tmp/privacy_utility.jsonl
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from fedforge import config, io, paths
from fedforge.data.download import run_download
from fedforge.data.partition import run_partition
from fedforge.data.preprocess import run_preprocess
from fedforge.fl import engine

MODES = ("none", "client", "sample")  # table order


def phase_config(params: Path, hospitals: int, scale: float, rounds: int, batch: int | None, dp: dict) -> config.Config:
    """params.yaml with synthetic data at `scale`, `hospitals` clients, the GroupNorm CNN, FedAvg with 2 local epochs
    (what DP accepts, and the README table's settings) and phase A's dp block."""
    raw = yaml.safe_load(params.read_text())
    raw["data"]["source"], raw["data"]["synthetic"]["scale"] = "synthetic", scale
    raw["partition"]["num_clients"] = hospitals
    raw["model"]["arch"] = "cnn"
    raw["monitor"]["url"], raw["federation"]["engine"] = "", "local"
    phase = raw["phases"]["A"]
    phase.update(rounds=rounds, norm="group", min_clients=min(phase["min_clients"], hospitals), strategy="fedavg",
                 local_epochs=2, loss="ce", bn="global", classifier="averaged")  # the table's settings (README)
    phase["batch_size"] = batch or phase["batch_size"]
    phase["dp"] = {**phase["dp"], **dp}
    return config.parse(raw)


def run(work: Path, cfg: config.Config) -> dict:
    """Phase A in `work` from scratch -> its metrics.json."""
    os.chdir(work)
    shutil.rmtree(paths.federated_dir("A"), ignore_errors=True)
    shutil.rmtree(paths.checkpoint_dir("A"), ignore_errors=True)
    engine.run_phase(cfg, "A")
    return json.loads((paths.federated_dir("A") / "metrics.json").read_text())


def table(args, rows: list[dict]) -> str:
    """The README's Markdown table with a line saying how it was measured."""
    head = (f"Phase A (bloodmnist), synthetic twin scale {args.scale:g}, {args.rounds} rounds, batch {args.batch_size}, "
            f"GroupNorm CNN, clipping_norm {args.clipping_norm:g}, delta {args.delta:g}; measured "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} CPUs "
            f"(load average {os.getloadavg()[0]:.1f} at the end).\n")
    lines = [head, "| hospitals | dp.mode | noise_multiplier | test ACC | test bal. ACC | epsilon | CPU s |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["hospitals"], MODES.index(r["mode"]), r["noise"])):
        eps = "∞ (no DP)" if r["epsilon"] is None else f"{r['epsilon']:.2f}"
        noise = "—" if r["mode"] == "none" else f"{r['noise']:g}"
        lines.append(f"| {r['hospitals']} | {r['mode']} | {noise} | {r['acc']:.3f} | {r['balanced_acc']:.3f} | {eps} "
                     f"| {r['cpu_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scale", type=float, default=0.15, help="synthetic data scale (1.0 = real split sizes)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16, help="local batch (0 = phase A's)")
    parser.add_argument("--hospitals", default="3,30")
    parser.add_argument("--noise", default="0.5,1.0", help="noise multipliers to try in each mode")
    parser.add_argument("--modes", default="client,sample")
    parser.add_argument("--clipping-norm", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--out", default="docs/figures/privacy_utility.md")
    parser.add_argument("--log", default="", help="JSON lines of finished runs: appended, and runs in it are skipped")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params, cwd, log_path = Path(args.params).resolve(), Path.cwd(), Path(args.log).resolve() if args.log else None
    done = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path and log_path.exists() else []
    base = Path(tempfile.mkdtemp(prefix="fedforge-privacy-"))
    settings = [("none", 1.0)] + [(m, float(n)) for m in args.modes.split(",") for n in args.noise.split(",")]
    setup = {"scale": args.scale, "rounds": args.rounds, "batch_size": args.batch_size,
             "clipping_norm": args.clipping_norm, "delta": args.delta}
    try:
        for hospitals in map(int, args.hospitals.split(",")):
            work = base / f"h{hospitals}"
            work.mkdir()
            for mode, noise in settings:
                key = {**setup, "hospitals": hospitals, "mode": mode, "noise": noise}
                if any(all(row.get(k) == v for k, v in key.items()) for row in done):
                    continue
                cfg = phase_config(params, hospitals, args.scale, args.rounds, args.batch_size, {
                    "mode": mode, "noise_multiplier": noise, "clipping_norm": args.clipping_norm,
                    "delta": args.delta, "max_epsilon": None})
                if not (work / paths.preprocessed_clients_dir("bloodmnist")).exists():
                    os.chdir(work)
                    for step in (run_download, run_partition, run_preprocess):
                        step(cfg, cfg.phase("A").dataset)
                wall, cpu = time.perf_counter(), time.process_time()
                metrics = run(work, cfg)
                row = {**key, "acc": metrics["test"]["acc"], "balanced_acc": metrics["test"]["balanced_acc"],
                       "epsilon": (metrics.get("privacy") or {}).get("epsilon"),
                       "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
                done.append(row)
                if log_path:
                    with open(log_path, "a") as fh:
                        fh.write(json.dumps(row) + "\n")
                print(f"RESULT {json.dumps(row)}", flush=True)
    finally:
        os.chdir(cwd)
        shutil.rmtree(base, ignore_errors=True)
    rows = [r for r in done if all(r.get(k) == v for k, v in setup.items())]
    io.write_text(Path(args.out), table(args, rows))
    print(table(args, rows))


if __name__ == "__main__":
    main()
