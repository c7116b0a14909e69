"""Federation overhead: phase wall time / the clients' summed train + evaluate compute time, per engine.

Runs phase A of params.yaml (defaults: BloodMNIST, 3 clients, FedAvg, its rounds) on the synthetic twin in a
scratch folder, once per engine, in one process run so machine load hits all alike:
  local            the default engine (in-process Flower grid)
  deployment-warm  SuperLink + one SuperNode per client, ClientApps forked from a pre-imported SuperExec
  deployment-cold  the same with stock Flower: a new flwr-clientapp process (fresh imports) per message
Wall time is measured around fedforge.fl.engine.run_phase, so it includes start-up (imports, processes)
and teardown; compute is the sum of the per-client `seconds` of every client_update event in events.jsonl.
"extra s/round" = (wall - compute) / rounds; "server ratio" is the ServerApp's own timing.json view
(its wall time, without process start-up, over the same compute).
Goal: <= 1.3 for `local`. The deployment engines may use a smaller data scale (--deployment-scale) since
their overhead is per message, not per image; the ratio then reads "overhead at that scale".
Also prints the cost of starting one ClientApp process (`import fedforge.fl.client_app`), cold.

    python benchmarks/federation_overhead.py [--scale 1.0] [--deployment-scale 0.1] [--rounds N]
        [--engines local,deployment-warm,deployment-cold] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from fedforge import config, paths
from fedforge.data.download import run_download
from fedforge.data.partition import run_partition
from fedforge.data.preprocess import run_preprocess
from fedforge.fl import engine

ENGINES = {"local": ("local", "warm"), "deployment-warm": ("deployment", "warm"),
           "deployment-cold": ("deployment", "cold")}


def phase_config(params: Path, phase: str, engine_name: str, scale: float, rounds: int | None) -> config.Config:
    """params.yaml with the engine, ClientApp start mode, synthetic scale and (optionally) rounds overridden."""
    raw = yaml.safe_load(params.read_text())
    raw["federation"]["engine"], raw["federation"]["clientapp_start"] = ENGINES[engine_name]
    raw["data"]["source"] = "synthetic"
    raw["data"]["synthetic"]["scale"] = scale
    raw["monitor"]["url"] = ""
    if rounds:
        raw["phases"][phase]["rounds"] = rounds
    return config.parse(raw)


def prepare_data(cfg: config.Config, dataset: str) -> None:
    """download (synthetic) -> partition -> preprocess for one dataset in the current directory."""
    run_download(cfg, dataset)
    run_partition(cfg, dataset)
    run_preprocess(cfg, dataset)


def client_compute_seconds(events: Path) -> tuple[float, int]:
    """(sum of per-client train + evaluate seconds, number of client updates) from a phase's events.jsonl."""
    updates = [e for e in map(json.loads, events.read_text().splitlines()) if e.get("type") == "client_update"]
    return sum(float(e.get("seconds") or 0.0) for e in updates), len(updates)


def run_engine(work: Path, cfg: config.Config, phase: str) -> dict:
    """Run one phase in `work` (its own repo root); wall time around run_phase, compute from events.jsonl."""
    os.chdir(work)
    shutil.rmtree(paths.federated_dir(phase), ignore_errors=True)
    shutil.rmtree(paths.checkpoint_dir(phase), ignore_errors=True)  # never resume: a full run each time
    start = time.perf_counter()
    engine.run_phase(cfg, phase)
    wall = time.perf_counter() - start
    compute, updates = client_compute_seconds(paths.federated_dir(phase) / "events.jsonl")
    timing_file = paths.federated_dir(phase) / "timing.json"
    timing = json.loads(timing_file.read_text()) if timing_file.exists() else {}
    return {"wall": wall, "compute": compute, "updates": updates, "ratio": wall / compute if compute else float("nan"),
            "server_ratio": timing.get("overhead", float("nan")),
            "extra_per_round": (wall - compute) / cfg.phase(phase).rounds,
            "load_1min_after": os.getloadavg()[0]}  # machine load differs between engines run one after another


def clientapp_import_seconds() -> float:
    """Wall seconds a fresh Python process needs to import the ClientApp (what a cold flwr-clientapp pays)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import fedforge.fl.client_app"], check=True)
    return time.perf_counter() - start


def fmt_load(load: tuple[float, float, float]) -> str:
    """'1.1 0.8 0.4' from os.getloadavg()."""
    return " ".join(f"{x:.1f}" for x in load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--phase", default="A")
    parser.add_argument("--scale", type=float, default=1.0, help="synthetic data scale for the local engine")
    parser.add_argument("--deployment-scale", type=float, default=0.1, help="synthetic scale for deployment runs")
    parser.add_argument("--rounds", type=int, default=None, help="override the phase's rounds (default: params)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated subset of {list(ENGINES)}")
    parser.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temp dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    params = Path(args.params).resolve()
    names = [e for e in args.engines.split(",") if e]
    unknown = set(names) - set(ENGINES)
    if unknown:
        parser.error(f"--engines: unknown {sorted(unknown)}; choose from {list(ENGINES)}")

    base = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="fedforge-overhead-"))
    cwd, results = Path.cwd(), {}
    load_before = os.getloadavg()
    try:
        for name in names:
            scale = args.scale if name == "local" else args.deployment_scale
            cfg = phase_config(params, args.phase, name, scale, args.rounds)
            work = base / f"scale_{scale:g}"
            if not (work / paths.preprocessed_clients_dir(cfg.phase(args.phase).dataset)).is_dir():
                work.mkdir(parents=True, exist_ok=True)
                os.chdir(work)
                prepare_data(cfg, cfg.phase(args.phase).dataset)
            results[name] = {"scale": scale, "rounds": cfg.phase(args.phase).rounds, **run_engine(work, cfg, args.phase)}
            print(f"RESULT {name}: {json.dumps(results[name])}", flush=True)  # survives a crash of a later engine
        import_seconds = clientapp_import_seconds()
    finally:
        os.chdir(cwd)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    print(f"\nphase {args.phase}: wall / summed client compute (goal <= 1.3 for local)")
    print(f"{'engine':<17}{'scale':>6}{'rounds':>7}{'updates':>8}{'wall s':>9}{'compute s':>10}{'ratio':>7}"
          f"{'extra s/round':>15}{'server ratio':>14}")
    for name, r in results.items():
        print(f"{name:<17}{r['scale']:>6g}{r['rounds']:>7}{r['updates']:>8}{r['wall']:>9.1f}{r['compute']:>10.1f}"
              f"{r['ratio']:>7.2f}{r['extra_per_round']:>15.1f}{r['server_ratio']:>14.2f}")
    print(f"cold ClientApp start-up (python -c 'import fedforge.fl.client_app'): {import_seconds:.1f} s wall")
    print(f"load average (1/5/15 min) before: {fmt_load(load_before)}, after: {fmt_load(os.getloadavg())} "
          f"on {os.cpu_count()} CPUs: other work on the machine slows every engine")


if __name__ == "__main__":
    main()
