"""Every use of a Flower internal, behind one fence, checked against the one flwr version it was written for.

Flower's public API (flwr.app, flwr.clientapp, flwr.serverapp, flwr.serverapp.strategy and the documented
CLIs) is imported directly wherever it is needed. Everything else -- protobuf serde, the task identity, the
SuperExec executors, the SuperNode's pull loop, the Control API client -- is private to Flower and may
change in any minor release, so the rest of FedForge imports it only from here. Importing this module
first checks the installed flwr against SUPPORTED_FLWR (the pin in pyproject.toml) and stops with one line
naming both versions and the fix, instead of an AttributeError deep inside a SuperNode later.
tests/fl/test_flower_compat.py resolves every name in PRIVATE_SYMBOLS against the real flwr.

FLOWER_ENV, the environment every Flower process of ours gets, is defined here too, and set (unless already
set) in this process before flwr is first imported, because flwr reads FLWR_TELEMETRY_ENABLED at import.
"""
from __future__ import annotations

import os
import time
import types
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from fedforge.errors import UserError

__all__ = [  # what the rest of FedForge may import from here
    "FLOWER_ENV",
    "MAIN_PARAMS_RECORD",
    "PRIVATE_SYMBOLS",
    "SUPERLINK_NODE_ID",
    "SUPPORTED_FLWR",
    "DefaultWorkflow",
    "ErrorCode",
    "ExecutionSpec",
    "FlowerVersionError",
    "LaunchResult",
    "LegacyContext",
    "LegacyFedAvg",
    "NumPyClient",
    "PrivacyBudgetExhausted",
    "ProtoMessage",
    "Run",
    "SecAggPlusWorkflow",
    "ServerConfig",
    "SubprocessExecutor",
    "TaskType",
    "aggregate_arrayrecords",
    "cap_supernode_idle_poll",
    "check_flwr_version",
    "control_client",
    "flower_env",
    "flower_supernode",
    "message_from_proto",
    "message_to_proto",
    "ndarrays_to_parameters",
    "replace_dp_noise",
    "run_forked_clientapp",
    "run_simulation_with_config",
    "run_status",
    "run_superexec_with",
    "secaggplus_mod",
    "set_task_identity",
    "sweep_undelivered_only",
]
SUPPORTED_FLWR = ">=1.42,<1.43"  # the pin in pyproject.toml (test_flower_compat checks that they agree)
FLOWER_ENV = {
    "FLWR_TELEMETRY_ENABLED": "0",  # no usage events sent to flower.ai from a hospital's machine
    "FLWR_DISABLE_UPDATE_CHECK": "1",  # no "new version available" network call per process start
    "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",  # never `pip install` an app's dependencies at run time
    # SuperExec asks its SuperNode for new ClientApp work every second by default; 0.2 s shortens rounds.
    "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": "0.2",
}


class FlowerVersionError(UserError):
    """The installed flwr is not the version whose internals this module was written against."""


def check_flwr_version(installed: str) -> None:
    """Raise FlowerVersionError (one line: both versions and the fix) unless `installed` is in SUPPORTED_FLWR."""
    try:
        supported = Version(installed) in SpecifierSet(SUPPORTED_FLWR)
    except InvalidVersion:
        supported = False
    if not supported:
        raise FlowerVersionError(
            f"flwr {installed} is installed but FedForge supports flwr{SUPPORTED_FLWR} only (it uses Flower "
            f"internals, see fedforge/fl/flower_compat.py); fix: pip install 'flwr{SUPPORTED_FLWR}'")


def flower_env(flwr_home: Path) -> dict[str, str]:
    """Environment for a Flower child process: ours plus FLOWER_ENV and a private FLWR_HOME."""
    return {**os.environ, **FLOWER_ENV, "FLWR_HOME": str(flwr_home)}


for _name, _value in FLOWER_ENV.items():  # before `import flwr`: it reads FLWR_TELEMETRY_ENABLED on import
    os.environ.setdefault(_name, _value)

import flwr

check_flwr_version(flwr.__version__)

# Flower's private symbols, imported only after the version check; PRIVATE_SYMBOLS says why we need each.
from flwr.cli.typing import SuperLinkConnection
from flwr.cli.utils import init_http_client_from_connection
from flwr.client import NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.common import ndarrays_to_parameters
from flwr.common.constant import SUPERLINK_NODE_ID, ErrorCode
from flwr.common.serde import message_from_proto, message_to_proto
from flwr.proto.control_pb2 import ListRunsRequest  # pylint: disable=E0611
from flwr.proto.message_pb2 import Message as ProtoMessage  # pylint: disable=E0611
from flwr.server import LegacyContext, ServerConfig
from flwr.server.strategy import FedAvg as LegacyFedAvg
from flwr.server.superlink.fleet.vce import vce_api as vce_module
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_PARAMS_RECORD
from flwr.serverapp.exception import PrivacyBudgetExhausted
from flwr.serverapp.strategy.dp_fixed_clipping import DifferentialPrivacyFixedClippingBase as DpFixedClippingBase
from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords
from flwr.simulation.run_simulation import _run_simulation
from flwr.supercore.constant import NOOP_FEDERATION_ID, TaskType
from flwr.supercore.exit import exit_handler
from flwr.supercore.run import Run
from flwr.supercore.superexec import run_superexec as superexec_module
from flwr.supercore.superexec.executor import ExecutionSpec, LaunchResult, SubprocessExecutor
from flwr.supercore.task_identity import TaskIdentity
from flwr.supercore.telemetry import EventType
from flwr.supercore.tls import validate_and_resolve_root_certificates
from flwr.supernode import start_client_internal as supernode_loop_module
from flwr.supernode.cli import flower_supernode
from flwr.supernode.runtime.run_clientapp import run_clientapp

PRIVATE_SYMBOLS = {  # name here -> "module:attribute" in flwr; why FedForge needs it
    # deployment.py polls run status with an in-process Control API client (`flwr list` = an interpreter per poll)
    "SuperLinkConnection": "flwr.cli.typing:SuperLinkConnection",  # the connection the client is built from
    "init_http_client_from_connection": "flwr.cli.utils:init_http_client_from_connection",  # builds the client
    "ListRunsRequest": "flwr.proto.control_pb2:ListRunsRequest",  # the status query
    # engine.py / grid.py / observe.py: the local engine's in-process grid behaves as SuperLink + flwr-serverapp
    "SUPERLINK_NODE_ID": "flwr.common.constant:SUPERLINK_NODE_ID",  # the ServerApp's node id in its Context
    "ErrorCode": "flwr.common.constant:ErrorCode",  # the error reply a crashed ClientApp becomes
    "message_from_proto": "flwr.common.serde:message_from_proto",  # messages travel in Flower's wire format,
    "message_to_proto": "flwr.common.serde:message_to_proto",  # so byte counts are real and no object is shared
    "ProtoMessage": "flwr.proto.message_pb2:Message",  # ... parsed back from bytes
    "Run": "flwr.supercore.run:Run",  # the run record a Grid must return
    "TaskIdentity": "flwr.supercore.task_identity:TaskIdentity",  # Message() stamps its run/node id into messages
    # privacy.py: what the DP wrapper raises before a round would exceed dp.max_epsilon (not in flwr.serverapp)
    "PrivacyBudgetExhausted": "flwr.serverapp.exception:PrivacyBudgetExhausted",
    # ... and the DP wrappers' base, whose private noise step draws from np.random (MT19937, not a CSPRNG): replaced
    "DpFixedClippingBase": "flwr.serverapp.strategy.dp_fixed_clipping:DifferentialPrivacyFixedClippingBase",
    # strategies.py: Flower's own example-weighted mean, for BatchNorm statistics kept out of server optimizers
    "aggregate_arrayrecords": "flwr.serverapp.strategy.strategy_utils:aggregate_arrayrecords",
    # secagg_app.py: SecAgg+ exists for flwr 1.42's legacy API only (public there, but not the API we build on)
    "NumPyClient": "flwr.client:NumPyClient",  # the legacy client whose FitRes secaggplus_mod can read
    "secaggplus_mod": "flwr.client.mod:secaggplus_mod",  # client half of SecAgg+
    "ndarrays_to_parameters": "flwr.common:ndarrays_to_parameters",  # the legacy strategy's initial Parameters
    "LegacyContext": "flwr.server:LegacyContext",  # what the legacy workflows run on
    "ServerConfig": "flwr.server:ServerConfig",  # its number of rounds
    "LegacyFedAvg": "flwr.server.strategy:FedAvg",  # the legacy strategy SecAggPlusWorkflow drives
    "DefaultWorkflow": "flwr.server.workflow:DefaultWorkflow",  # legacy round loop ...
    "SecAggPlusWorkflow": "flwr.server.workflow:SecAggPlusWorkflow",  # ... with SecAgg+ as its fit step
    "MAIN_PARAMS_RECORD": "flwr.server.workflow.constant:MAIN_PARAMS_RECORD",  # where it leaves the global model
    # warm_superexec.py: a SuperExec that forks ClientApps from a process that imported them once
    "TaskType": "flwr.supercore.constant:TaskType",  # only ClientApp tasks are forked
    "ExecutionSpec": "flwr.supercore.superexec.executor:ExecutionSpec",  # what the SuperExec asks us to launch
    "LaunchResult": "flwr.supercore.superexec.executor:LaunchResult",  # what we answer
    "SubprocessExecutor": "flwr.supercore.superexec.executor:SubprocessExecutor",  # stock launch for other tasks
    "superexec_module": "flwr.supercore.superexec:run_superexec",  # the SuperExec loop and its get_executor
    "exit_handler": "flwr.supercore.exit:exit_handler",  # a forked child must not run the parent's handlers
    "run_clientapp": "flwr.supernode.runtime.run_clientapp:run_clientapp",  # what flwr-clientapp runs
    "validate_and_resolve_root_certificates": "flwr.supercore.tls:validate_and_resolve_root_certificates",  # TLS
    # supernode.py: stock `flower-supernode` with its fixed 3 s idle sleep capped
    "supernode_loop_module": "flwr.supernode:start_client_internal",  # the pull loop whose sleep we cap
    "flower_supernode": "flwr.supernode.cli:flower_supernode",  # the `flower-supernode` entry point
    # simulation.py: the public run_simulation() gives the apps no run_config; its private core takes a Run
    "_run_simulation": "flwr.simulation.run_simulation:_run_simulation",  # Simulation Engine with our Run
    "NOOP_FEDERATION_ID": "flwr.supercore.constant:NOOP_FEDERATION_ID",  # the federation a local simulation has
    "EventType": "flwr.supercore.telemetry:EventType",  # the exit event it records (telemetry stays off)
    # ... and its message sweep, O(nodes x pending messages) per 0.1 s (sweep_undelivered_only)
    "vce_module": "flwr.server.superlink.fleet.vce:vce_api",
}


def set_task_identity(run_id: int, node_id: int = SUPERLINK_NODE_ID, task_id: int = 1) -> None:
    """Say which task this process runs, as flwr-serverapp does before calling the app (Message() reads it)."""
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = task_id, run_id, node_id


def run_simulation_with_config(server_app, client_app, num_supernodes: int, backend_config: dict, context,
                               app_dir: Path) -> None:
    """Flower's Simulation Engine (as `flwr run` on a simulation federation) where both apps see
    context.run_config: ClientApp contexts read it from app_dir/pyproject.toml fused with the Run's overrides."""
    run = Run.create_empty(context.run_id)
    run.override_config = dict(context.run_config)
    run.primary_task_id = 1
    run.federation_id = NOOP_FEDERATION_ID
    sweep_undelivered_only()
    _run_simulation(num_supernodes=num_supernodes, client_app=client_app, server_app=server_app,
                    backend_name="ray", backend_config=backend_config, server_app_context=context, run=run,
                    app_dir=str(app_dir), is_app=True, exit_event=EventType.PYTHON_API_RUN_SIMULATION_LEAVE)


def sweep_undelivered_only() -> None:
    """Make the Simulation Engine ask its link state for a node's messages only when one awaits delivery.

    flwr 1.42 calls get_message_ins(node, limit=1) for every virtual SuperNode every 0.1 s, and each call
    validates every stored message (kept until its reply is pulled): ~16 CPU-s a round at 100 nodes.
    One pass per sweep finds the nodes with an undelivered message; only they get Flower's own call."""
    def add_messages_to_queue(state, queue, nodes_mapping, f_stop) -> None:
        while not f_stop.is_set():
            with state.lock:
                waiting = {m.metadata.dst_node_id for m in state.message_ins_store.values()
                           if m.metadata.delivered_at == ""}
            for node_id in (node for node in nodes_mapping if node in waiting):
                for message in state.get_message_ins(node_id=node_id, limit=1):
                    queue.put(message)
            f_stop.wait(0.1)

    vce_module.add_messages_to_queue = add_messages_to_queue


def replace_dp_noise(wrapper_cls: type, add_noise) -> None:
    """Make `wrapper_cls` (a subclass of Flower's fixed-clipping DP wrapper) add its noise with add_noise(self, arrays)
    -> arrays: flwr 1.42 adds it after FedAvg in the base's private _add_noise_to_aggregated_arrays, from np.random."""
    if not issubclass(wrapper_cls, DpFixedClippingBase):
        raise TypeError(f"{wrapper_cls.__name__} is not one of Flower's fixed-clipping DP wrappers")
    wrapper_cls._add_noise_to_aggregated_arrays = add_noise


def control_client(name: str, address: str, ca_cert: Path | None):
    """A Control API client for connection `name` at `address` (TLS if ca_cert is given); caller closes it.

    The CLI helpers read credentials from $FLWR_HOME, so the caller sets FLWR_HOME first.
    """
    connection = SuperLinkConnection(name=name, address=address, insecure=ca_cert is None,
                                     root_certificates=str(ca_cert) if ca_cert else None)
    return init_http_client_from_connection(connection)


def run_status(client, run_id: int) -> str:
    """Run status as `flwr list` shows it: pending, starting, running, finished:completed|failed|stopped."""
    run = client.ListRuns(ListRunsRequest(run_id=run_id)).run_dict[run_id]
    sub = run.status.sub_status
    return f"{run.status.status}:{sub}" if sub else run.status.status


def run_superexec_with(executor, runtime_api_address: str, *, insecure: bool, root_certificates_path: str | None,
                       parent_pid: int | None) -> None:
    """Flower's SuperExec loop with our executor: run_superexec has no parameter for one, so we replace the
    get_executor it calls (this process only runs this loop)."""
    superexec_module.get_executor = lambda *_args, **_kwargs: executor
    superexec_module.run_superexec(runtime_api_address=runtime_api_address, insecure=insecure,
                                   root_certificates_path=root_certificates_path, parent_pid=parent_pid,
                                   runtime_dependency_install=False)


def run_forked_clientapp(spec: ExecutionSpec) -> None:
    """In a child forked from the SuperExec: drop the parent's exit handlers (they would close its connections),
    then run one ClientApp task exactly as `flwr-clientapp` would."""
    exit_handler.registered_exit_handlers.clear()
    run_clientapp(runtime_api_address=spec.runtime_api_address, token=spec.token, insecure=spec.insecure,
                  certificates=validate_and_resolve_root_certificates(spec.root_certificates_path, spec.insecure),
                  parent_pid=spec.parent_pid, runtime_dependency_install=False)


def cap_supernode_idle_poll(max_seconds: float) -> None:
    """Make the SuperNode's pull loop sleep at most `max_seconds` where Flower sleeps a fixed 3 s when idle.

    Only start_client_internal sees the capped sleep: it gets its own `time` module namespace.
    """
    def capped_sleep(seconds: float) -> None:
        time.sleep(min(seconds, max_seconds))

    supernode_loop_module.time = types.SimpleNamespace(**{**vars(time), "sleep": capped_sleep})

