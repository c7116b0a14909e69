"""Run one federated phase on the configured engine: `local` (in-process grid), `deployment` or `simulation`.

Both engines run the same ServerApp and ClientApp objects with the same run_config; the ServerApp writes
all outputs. The local engine calls the ClientApp directly through InProcessGrid (no network, no extra
processes); see grid.py for why and benchmarks/federation_overhead.py for the measured overhead.
"""
from __future__ import annotations

import logging

from flwr.app import Context, RecordDict

from fedforge.config import Config
from fedforge.fl import appconfig
from fedforge.fl.flower_compat import SUPERLINK_NODE_ID, set_task_identity
from fedforge.fl.processes import sigterm_as_interrupt

log = logging.getLogger(__name__)


def run_phase(cfg: Config, phase: str) -> None:
    """`fedforge federate --phase X` / stages/federate.py: run phase X on federation.engine."""
    logging.getLogger("flwr").propagate = False  # flwr has its own console handler; avoid every line twice
    engine = cfg.federation.engine
    run_config = appconfig.app_config(cfg, phase, engine)
    log.info("federate@%s: %s on %s, engine %s", phase, cfg.phase(phase).strategy, cfg.phase(phase).dataset, engine)
    if engine == "deployment":
        from fedforge.fl.deployment import run_deployment

        run_deployment(cfg, phase, run_config)
        return
    if engine == "simulation":
        from fedforge.fl.simulation import run_simulation

        run_simulation(cfg, phase, run_config)
        return
    run_local(run_config)


def run_local(run_config: dict) -> None:
    """Run the ServerApp in this process over an InProcessGrid of the phase's hospitals; with
    federation.workers > 1 they train in worker processes forked here, before the server starts."""
    from fedforge.fl import task
    from fedforge.fl.client_app import app as client_app
    from fedforge.fl.grid import InProcessGrid
    from fedforge.fl.server_app import app as server_app
    from fedforge.fl.workers import resolve_workers

    cfg, phase, repo_root, _ = appconfig.from_run_config(run_config)
    if cfg.federation.secure_aggregation == "secaggplus":  # SecAgg+ exists for flwr 1.42's legacy API only
        from fedforge.fl.secagg_app import client_app, server_app

    run_id = 1
    set_task_identity(run_id)  # as flwr-serverapp does: Message() stamps it into every message it creates
    num_clients = cfg.partition.num_clients
    nodes = [{"partition-id": i, "num-partitions": num_clients} for i in range(num_clients)]
    workers = resolve_workers(cfg.federation.workers, num_clients)
    sizes = [task.client_summary(repo_root, cfg.phase(phase).dataset, i)["size"]  # to balance the workers
             for i in range(num_clients)] if workers > 1 else None
    grid = InProcessGrid(client_app, nodes, run_config, run_id=run_id, workers=workers, sizes=sizes,
                         timeout=cfg.federation.round_timeout)
    context = Context(run_id=run_id, node_id=SUPERLINK_NODE_ID, node_config={}, state=RecordDict(),
                      run_config=dict(run_config))
    try:
        with sigterm_as_interrupt():  # SIGTERM/SIGHUP unwind through `finally`, which stops the workers
            server_app(grid, context)
    finally:
        grid.close()
