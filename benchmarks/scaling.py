"""Scaling: per-round wall time, overhead, peak RSS and bytes moved as the number of hospitals grows, per engine.

For each number of clients (default 3, 10, 30, 100) the phase's dataset is partitioned once (synthetic twin,
--scale of the real size) in a scratch folder; then each engine runs the phase (--rounds, default 2) in a
child process (`--run`) that this process samples every SAMPLE_SECONDS: CPU seconds and RSS summed over the
child's whole process tree (Ray's GCS, raylet and actors, or SuperLink and SuperNodes, included; RSS counts
shared pages once per process, so it over-states, never under-states).
  compute      the clients' time inside the training loop (HF Trainer callback: on_train_begin -> on_train_end)
               plus their evaluation: `seconds` (wall) and `cpu-seconds` of every client_update event.
               Trainer construction, data set-up, model building and messaging are overhead.
  wall ratio   round wall time / wall compute (rounds only: start-up is reported apart, as `startup s`)
  cpu ratio    CPU seconds of the process tree during the rounds / CPU compute (engines that run clients in
               parallel can have wall ratio < 1; this one says what the federation costs in CPU, and other
               load on the machine does not inflate it)
Goals (issue 12, 2 rounds, 2 cores): local <= 1.3 at 100 clients; simulation cpu ratio <= 1.5 at >= 30
clients; peak RSS <= 8 GB at 100 clients. Writes docs/figures/scaling.{json,md,png}.

    python benchmarks/scaling.py [--clients 3,10,30,100] [--engines local,simulation,deployment]
        [--deployment-clients 3,10] [--scale 1.0] [--rounds 2] [--phase A] [--work DIR] [--out docs/figures]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

SAMPLE_SECONDS = 0.25
ROOT = Path(__file__).resolve().parents[1]


def phase_config(params: Path, phase: str, engine: str, clients: int, scale: float, rounds: int) -> dict:
    """params.yaml with engine, clients, synthetic scale and rounds overridden (raw dict, validated by the child)."""
    raw = yaml.safe_load(params.read_text())
    raw["federation"]["engine"] = engine
    raw["partition"]["num_clients"] = clients
    raw["data"]["source"] = "synthetic"
    raw["data"]["synthetic"]["scale"] = scale
    raw["monitor"]["url"] = ""
    raw["phases"][phase]["rounds"] = rounds
    raw["phases"][phase]["min_clients"] = min(raw["phases"][phase]["min_clients"], clients)
    return raw


def prepare(work: Path, raw: dict, dataset: str) -> None:
    """download (synthetic) -> partition -> preprocess of one dataset in `work`, unless already there."""
    from fedforge import config, paths
    from fedforge.data.download import run_download
    from fedforge.data.partition import run_partition
    from fedforge.data.preprocess import run_preprocess

    if (work / paths.preprocessed_clients_dir(dataset)).is_dir():
        return
    work.mkdir(parents=True, exist_ok=True)
    cfg, cwd = config.parse(raw), Path.cwd()
    os.chdir(work)
    try:
        run_download(cfg, dataset)
        run_partition(cfg, dataset)
        run_preprocess(cfg, dataset)
    finally:
        os.chdir(cwd)


def sample_tree(proc: subprocess.Popen) -> list[tuple[float, float, int]]:
    """(time, CPU seconds, RSS bytes) of proc's process tree every SAMPLE_SECONDS until it exits.

    CPU is cumulative per pid (a process that ended keeps its last seen total), so the series never drops.
    """
    cpu_by_pid: dict[int, float] = {}
    samples = []
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        rss = 0
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            tree = []
        for p in tree:
            try:
                with p.oneshot():
                    times, mem = p.cpu_times(), p.memory_info()
                cpu_by_pid[p.pid] = times.user + times.system + times.children_user + times.children_system
                rss += mem.rss
            except psutil.Error:
                continue
        samples.append((time.time(), sum(cpu_by_pid.values()), rss))
        time.sleep(SAMPLE_SECONDS)
    return samples


def cpu_at(samples: list[tuple[float, float, int]], t: float) -> float:
    """Cumulative tree CPU seconds at time t (the last sample at or before t)."""
    before = [cpu for ts, cpu, _ in samples if ts <= t]
    return before[-1] if before else 0.0


def analyse(events_file: Path, samples: list, started: float) -> dict:
    """Per-run numbers from the phase's events.jsonl and the tree samples (rounds only, start-up apart)."""
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    begins = {e["round"]: e["ts"] for e in events if e["type"] == "round_started"}
    ends = {e["round"]: e for e in events if e["type"] == "round_completed"}
    rounds = sorted(ends)
    updates = [e for e in events if e["type"] == "client_update"]
    compute = sum(float(e.get("seconds") or 0.0) for e in updates)
    cpu_compute = sum(float(e["metrics"].get("cpu-seconds", 0.0)) for e in updates)
    wall = sum(ends[r]["ts"] - begins[r] for r in rounds)
    cpu = cpu_at(samples, ends[rounds[-1]]["ts"]) - cpu_at(samples, begins[rounds[0]])
    return {"rounds": len(rounds), "startup_s": begins[rounds[0]] - started, "round_wall_s": wall / len(rounds),
            "compute_s_per_round": compute / len(rounds), "wall_ratio": wall / compute,
            "cpu_compute_s_per_round": cpu_compute / len(rounds), "cpu_ratio": cpu / cpu_compute,
            "peak_rss_gb": max(rss for _, _, rss in samples) / 1e9,
            "mb_per_round": sum(ends[r]["bytes_down"] + ends[r]["bytes_up"] for r in rounds) / len(rounds) / 1e6}


def measure(work: Path, raw: dict, phase: str) -> dict:
    """Run the phase in a child (`--run`) in `work`, sampling its process tree; the analysed numbers."""
    from fedforge import paths

    events = work / paths.federated_dir(phase) / "events.jsonl"
    for folder in (paths.federated_dir(phase), paths.checkpoint_dir(phase)):  # never resume: a full run each time
        subprocess.run(["rm", "-rf", str(work / folder)], check=True)
    log_file = work / f"{raw['federation']['engine']}.log"
    started = time.time()
    with open(log_file, "w") as log:
        child = subprocess.Popen([sys.executable, __file__, "--run", phase], cwd=work, stdin=subprocess.PIPE,
                                 text=True, stdout=log, stderr=subprocess.STDOUT)
        child.stdin.write(json.dumps(raw))
        child.stdin.close()
        samples = sample_tree(child)
    if child.returncode != 0:
        raise RuntimeError(f"{raw['federation']['engine']} failed (exit {child.returncode}); see {log_file}")
    return analyse(events, samples, started)


def run_child(phase: str) -> None:
    """`--run PHASE`: the phase on the engine of the params given as JSON on stdin, in the current directory."""
    from fedforge import config
    from fedforge.fl import engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine.run_phase(config.parse(json.loads(sys.stdin.read())), phase)


COLUMNS = ("engine", "clients", "startup_s", "round_wall_s", "compute_s_per_round", "wall_ratio",
           "cpu_compute_s_per_round", "cpu_ratio", "peak_rss_gb", "mb_per_round")


def write_figures(rows: list[dict], out: Path, note: str) -> None:
    """scaling.json (rows), scaling.md (table) and scaling.png (ratios and peak RSS against clients)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps({"note": note, "rows": rows}, indent=2) + "\n")
    lines = [f"<!-- written by benchmarks/scaling.py; {note} -->", "| " + " | ".join(COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in COLUMNS) + " |"
              for r in rows]
    (out / "scaling.md").write_text("\n".join(lines) + "\n")
    fig, (ratio_ax, rss_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for engine in dict.fromkeys(r["engine"] for r in rows):
        mine = [r for r in rows if r["engine"] == engine]
        x = [r["clients"] for r in mine]
        ratio_ax.plot(x, [r["wall_ratio"] for r in mine], "o-", label=f"{engine} wall")
        ratio_ax.plot(x, [r["cpu_ratio"] for r in mine], "s--", label=f"{engine} CPU")
        rss_ax.plot(x, [r["peak_rss_gb"] for r in mine], "o-", label=engine)
    ratio_ax.set(xscale="log", xlabel="hospitals", ylabel="round time / client compute", title="overhead per round")
    rss_ax.set(xscale="log", xlabel="hospitals", ylabel="GB", title="peak RSS of the process tree")
    for ax in (ratio_ax, rss_ax):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "scaling.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", metavar="PHASE", help=argparse.SUPPRESS)  # the child: run one phase
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--phase", default="A")
    parser.add_argument("--clients", default="3,10,30,100")
    parser.add_argument("--engines", default="local,simulation,deployment")
    parser.add_argument("--deployment-clients", default="3,10", help="deployment runs only at these sizes")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", default=None, help="scratch folder, kept (default: a temp dir, removed)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "figures"))
    args = parser.parse_args()
    if args.run:
        run_child(args.run)
        return
    params, rows = Path(args.params), []
    work = Path(args.work or tempfile.mkdtemp(prefix="fedforge-scaling-")).resolve()
    deployment_sizes = {int(n) for n in args.deployment_clients.split(",") if n}
    load_before = os.getloadavg()
    for clients in (int(n) for n in args.clients.split(",")):
        for engine in args.engines.split(","):
            if engine == "deployment" and clients not in deployment_sizes:
                continue
            raw = phase_config(params, args.phase, engine, clients, args.scale, args.rounds)
            folder = work / f"clients_{clients}"
            prepare(folder, raw, raw["phases"][args.phase]["dataset"])
            row = {"engine": engine, "clients": clients, **measure(folder, raw, args.phase),
                   "load_after": os.getloadavg()[0]}
            rows.append(row)
            print("RESULT", json.dumps(row), flush=True)  # survives a crash of a later run
    note = (f"phase {args.phase}, synthetic scale {args.scale:g}, {args.rounds} rounds, {os.cpu_count()} CPUs, "
            f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}")
    write_figures(rows, Path(args.out), note)
    print(note)
    print(Path(args.out, "scaling.md").read_text())


if __name__ == "__main__":
    main()
