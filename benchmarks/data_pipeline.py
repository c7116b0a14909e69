"""Benchmark the data pipeline: download, audit, partition, preprocess for every dataset, as DVC runs them.

Each stage runs as its own process (`python stages/<verb>.py --dataset <ds>`), in a temporary folder with the
repo's params.yaml (data.synthetic.scale forced to --scale, 1.0 = full MedMNIST sizes). Prints wall time per
stage and in total, CPU time, and the peak RSS of the largest process, against the goals (≤ 60 s, ≤ 2 GB).

    python benchmarks/data_pipeline.py                 # all of data.datasets at scale 1.0
    python benchmarks/data_pipeline.py --scale 0.1 --keep /tmp/fedforge-bench
"""
from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ("download", "audit", "partition", "preprocess")
GOAL_SECONDS, GOAL_RSS_GB = 60.0, 2.0


def peak_rss_gb() -> float:
    """Largest resident set of this process or any finished child (Linux reports KiB)."""
    kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return kib / 1024**2


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children: less sensitive to a busy machine."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="data.synthetic.scale (default 1.0)")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep the outputs (default: a temp dir)")
    args = parser.parse_args()

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["source"] = "synthetic"
    params["data"]["synthetic"]["scale"] = args.scale
    work = args.keep or Path(tempfile.mkdtemp(prefix="fedforge-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    datasets = params["data"]["datasets"]
    print(f"data pipeline benchmark: {', '.join(datasets)} at scale {args.scale}, image size "
          f"{params['data']['image_size']}, in {work}")

    timings: dict[tuple[str, str], float] = {}
    start = time.perf_counter()
    try:
        for dataset in datasets:
            for stage in STAGES:
                t0 = time.perf_counter()
                subprocess.run([sys.executable, str(REPO / "stages" / f"{stage}.py"), "--dataset", dataset],
                               cwd=work, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                timings[dataset, stage] = time.perf_counter() - t0
                print(f"  {stage:>10}@{dataset:<11} {timings[dataset, stage]:6.1f} s")
    finally:
        total = time.perf_counter() - start
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    rss = peak_rss_gb()
    for stage in STAGES:
        print(f"  {stage:>10} total   {sum(t for (_, s), t in timings.items() if s == stage):6.1f} s")
    print(f"wall time   {total:6.1f} s   goal ≤ {GOAL_SECONDS:.0f} s   ratio {total / GOAL_SECONDS:.2f}")
    print(f"CPU time    {cpu_seconds():6.1f} s   (user + sys of all stage processes; wall time ≈ this on an idle machine)")
    print(f"peak RSS    {rss:6.2f} GB  goal ≤ {GOAL_RSS_GB:.0f} GB   ratio {rss / GOAL_RSS_GB:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
