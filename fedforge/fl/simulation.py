"""Simulation Engine for one phase: Flower's Simulation Engine (Ray) runs the same ServerApp and ClientApp.

Each hospital is a virtual SuperNode (node_config "partition-id", "num-partitions"; its node id is random,
so the apps name clients by partition id only); ClientApps run in a pool of Ray actors, floor(CPUs /
federation.client_cpus) of them, each holding torch + transformers (~1 GB). RAY_ADDRESS in the environment
makes Ray join that cluster instead of starting one (every Ray node needs the data at the same path); without
it Ray is told to start its own ("local"), never to join whatever `ray start` last ran on this machine.

The simulation runs in a child process (`python -m fedforge.fl.simulation`, the spec on stdin) rather than
in the stage: Flower runs the ServerApp in a non-daemon thread that an interrupted run would leave waiting
up to round_timeout, and Ray's processes fate-share with the process that called ray.init(). So stopping
the child's process tree stops everything: on success, failure, Ctrl-C/SIGTERM (sigterm_as_interrupt) and
SIGKILL of the stage (PR_SET_PDEATHSIG on the child, which Ray's GCS and raylet share, plus a detached
watchdog for the raylet's agents, which outlive it: fl/processes.py). On an existing cluster the child is only
a Ray driver: its tree holds no Ray process, so the cluster outlives the stage, and Ray ends the run's actors
when the driver disconnects or dies (tests/fl/test_ray_cluster.py).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import psutil

from fedforge.config import Config
from fedforge.errors import UserError
from fedforge.fl.processes import die_with_parent, running, sigterm_as_interrupt, start_watchdog, stop, tree_watchdog

log = logging.getLogger(__name__)

RUN_ID = 1  # one run per process; the ServerApp names runs by phase, not by Flower's run id


class SimulationError(UserError, RuntimeError):
    """The simulation child failed (its traceback is on the stage's stderr above this line)."""


def backend_config(cfg: Config, ray_address: str | None) -> dict:
    """Flower's Ray backend config: resources of one ClientApp actor from params, quiet Ray logging, and
    the cluster to join (RAY_ADDRESS) or "local": Flower calls ray.init() without an address, which would
    otherwise join the cluster recorded by the last `ray start` on this machine instead of starting one."""
    return {"client_resources": {"num_cpus": cfg.federation.client_cpus, "num_gpus": cfg.federation.client_gpus},
            "init_args": {"address": ray_address or "local", "logging_level": "WARNING", "log_to_driver": True}}


def run_simulation(cfg: Config, phase: str, run_config: dict) -> None:
    """Run one phase on the Simulation Engine in a child process; SimulationError unless it completes."""
    ray_address = os.environ.get("RAY_ADDRESS") or None
    spec = {"run_config": run_config, "num_supernodes": cfg.partition.num_clients,
            "backend_config": backend_config(cfg, ray_address),
            "secure_aggregation": cfg.federation.secure_aggregation}
    log.info("phase %s: Simulation Engine, %d virtual SuperNodes, %s CPU / %s GPU per ClientApp actor, %s",
             phase, cfg.partition.num_clients, cfg.federation.client_cpus, cfg.federation.client_gpus,
             f"on the Ray cluster at {ray_address}" if ray_address else "on a Ray instance of its own")
    with sigterm_as_interrupt():
        child = subprocess.Popen(  # stdout/stderr stay the stage's: Flower's and the apps' logs appear there
            [sys.executable, "-m", "fedforge.fl.simulation"], stdin=subprocess.PIPE, text=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509
        # outlives a SIGKILLed stage, then stops what is left of the child's tree
        watchdog = start_watchdog(tree_watchdog, os.getpid(), child.pid)
        try:
            child.communicate(json.dumps(spec))
        finally:
            stop(lambda: _tree(child.pid))
            child.wait()
            watchdog.terminate()  # everything is down; it has nothing left to guard
            watchdog.wait()
    if child.returncode != 0:
        raise SimulationError(f"phase {phase}: the Simulation Engine exited with code {child.returncode} "
                              f"(its log is above)")


def _tree(pid: int) -> list[psutil.Process]:
    """The live process tree under `pid`, itself included (Ray's GCS, raylet and workers are in it)."""
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        return running([root, *root.children(recursive=True)])
    return []


def simulate(run_config: dict, num_supernodes: int, backend: dict, secure_aggregation: str) -> None:
    """In the child: the fedforge ServerApp and ClientApp on Flower's Simulation Engine with this run_config."""
    from flwr.app import Context, RecordDict

    from fedforge.fl.client_app import app as client_app
    from fedforge.fl.deployment import write_app
    from fedforge.fl.flower_compat import SUPERLINK_NODE_ID, run_simulation_with_config, set_task_identity
    from fedforge.fl.server_app import app as server_app

    if secure_aggregation == "secaggplus":  # SecAgg+ exists for flwr 1.42's legacy API only: its own apps
        from fedforge.fl.secagg_app import client_app, server_app

    set_task_identity(RUN_ID)
    context = Context(run_id=RUN_ID, node_id=SUPERLINK_NODE_ID, node_config={}, state=RecordDict(),
                      run_config=dict(run_config))
    with tempfile.TemporaryDirectory(prefix="fedforge-simulation-") as app_dir:
        write_app(Path(app_dir), run_config)  # the ClientApps' run_config: Flower reads it from an app folder
        run_simulation_with_config(server_app, client_app, num_supernodes, backend, context, Path(app_dir))


def main() -> None:
    """`python -m fedforge.fl.simulation`: the spec as JSON on stdin; exit 0 only if the phase completed.

    os._exit: after a failure Flower's ServerApp thread may still wait on replies; nothing else is pending.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("flwr").propagate = False
    spec = json.loads(sys.stdin.read())
    code = 0
    try:
        simulate(spec["run_config"], int(spec["num_supernodes"]), spec["backend_config"], spec["secure_aggregation"])
    except BaseException as exc:  # noqa: BLE001 - report, then exit with a code the stage turns into one line
        print(f"simulation failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        traceback.print_exc()
        code = 2 if isinstance(exc, UserError) else 1
    finally:
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
