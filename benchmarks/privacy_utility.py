"""Privacy-utility table: phase A test ACC and epsilon per DP mode and noise multiplier, at 3 and 30 hospitals.

Runs phase A of params.yaml on the synthetic twin (small scale by default) with the GroupNorm CNN (DP needs
GroupNorm; the phase's `norm` override sets it), once without DP and once per (mode, noise multiplier), for
each hospital count, on the local engine, one run at a time. Prints a Markdown table (the README's).

  .venv/bin/python benchmarks/privacy_utility.py --scale 0.1 --rounds 3 --hospitals 3,30 --noise 0.5,1.0,2.0
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from fedforge import config, paths
from fedforge.data.download import run_download
from fedforge.data.partition import run_partition
from fedforge.data.preprocess import run_preprocess
from fedforge.fl import engine


def phase_config(params: Path, hospitals: int, scale: float, rounds: int, dp: dict) -> config.Config:
    """params.yaml with synthetic data at `scale`, `hospitals` clients, the GroupNorm CNN and phase A's dp block."""
    raw = yaml.safe_load(params.read_text())
    raw["data"]["source"], raw["data"]["synthetic"]["scale"] = "synthetic", scale
    raw["partition"]["num_clients"] = hospitals
    raw["model"]["arch"] = "cnn"
    raw["monitor"]["url"], raw["federation"]["engine"] = "", "local"
    phase = raw["phases"]["A"]
    phase.update(rounds=rounds, norm="group", min_clients=min(phase["min_clients"], hospitals))
    phase["dp"] = {**phase["dp"], **dp}
    return config.parse(raw)


def run(work: Path, cfg: config.Config) -> dict:
    """Phase A in `work` from scratch -> its metrics.json."""
    os.chdir(work)
    shutil.rmtree(paths.federated_dir("A"), ignore_errors=True)
    shutil.rmtree(paths.checkpoint_dir("A"), ignore_errors=True)
    engine.run_phase(cfg, "A")
    return json.loads((paths.federated_dir("A") / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scale", type=float, default=0.1, help="synthetic data scale (1.0 = real split sizes)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hospitals", default="3,30")
    parser.add_argument("--noise", default="0.5,1.0,2.0", help="noise multipliers to try in each mode")
    parser.add_argument("--modes", default="client,sample")
    parser.add_argument("--clipping-norm", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params, cwd = Path(args.params).resolve(), Path.cwd()
    base = Path(tempfile.mkdtemp(prefix="fedforge-privacy-"))
    settings = [("none", 1.0)] + [(m, float(n)) for m in args.modes.split(",") for n in args.noise.split(",")]
    rows = []
    try:
        for hospitals in map(int, args.hospitals.split(",")):
            work = base / f"h{hospitals}"
            work.mkdir()
            for mode, noise in settings:
                cfg = phase_config(params, hospitals, args.scale, args.rounds, {
                    "mode": mode, "noise_multiplier": noise, "clipping_norm": args.clipping_norm,
                    "delta": args.delta, "max_epsilon": None})
                if mode == "none":
                    os.chdir(work)
                    for step in (run_download, run_partition, run_preprocess):
                        step(cfg, cfg.phase("A").dataset)
                metrics = run(work, cfg)
                eps = (metrics.get("privacy") or {}).get("epsilon")
                rows.append((hospitals, mode, noise if mode != "none" else None, metrics["test"]["acc"], eps))
                print(f"RESULT {json.dumps(rows[-1])}", flush=True)
    finally:
        os.chdir(cwd)
        shutil.rmtree(base, ignore_errors=True)
    print(f"\nphase A, synthetic scale {args.scale:g}, {args.rounds} rounds, GroupNorm CNN, "
          f"clipping_norm {args.clipping_norm:g}, delta {args.delta:g}\n")
    print("| hospitals | dp.mode | noise_multiplier | test ACC | epsilon |\n|---:|---|---:|---:|---:|")
    for hospitals, mode, noise, acc, eps in rows:
        print(f"| {hospitals} | {mode} | {'—' if noise is None else f'{noise:g}'} | {acc:.3f} | "
              f"{'∞ (no DP)' if eps is None else f'{eps:.2f}'} |")


if __name__ == "__main__":
    main()
