"""The Flower fence: every private symbol resolves in the installed flwr, nothing else imports one, and another
flwr version stops FedForge with one clear line."""
from __future__ import annotations

import ast
import importlib
import inspect
import os
import subprocess
import sys
import time
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from fedforge.fl import flower_compat
from fedforge.fl.flower_compat import FlowerVersionError, check_flwr_version
from tests.fl.conftest import REPO

PUBLIC_FLOWER = {"flwr.app", "flwr.clientapp", "flwr.serverapp", "flwr.serverapp.strategy"}


def _flwr_imports(path) -> list[tuple[str, str]]:
    """(module, bound name) of every flwr import statement in one source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "flwr":
            found += [(node.module, alias.asname or alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, alias.asname or alias.name) for alias in node.names if alias.name.startswith("flwr")]
    return found


@pytest.mark.parametrize("name", sorted(flower_compat.PRIVATE_SYMBOLS))
def test_each_private_symbol_is_the_real_flwr_object(name):
    module, attribute = flower_compat.PRIVATE_SYMBOLS[name].split(":")
    assert getattr(flower_compat, name) is getattr(importlib.import_module(module), attribute)


def test_private_symbols_lists_every_private_import_of_the_fence():
    imported = {bound for module, bound in _flwr_imports(REPO / "fedforge/fl/flower_compat.py") if module != "flwr"}
    assert imported == set(flower_compat.PRIVATE_SYMBOLS)


def test_no_other_module_imports_a_private_flower_symbol():
    fence = REPO / "fedforge/fl/flower_compat.py"
    sources = [p for folder in ("fedforge", "benchmarks", "stages") for p in (REPO / folder).rglob("*.py")]
    private = [f"{p.relative_to(REPO)}: {module}" for p in sources if p != fence
               for module, _ in _flwr_imports(p) if module not in PUBLIC_FLOWER]
    assert private == []


def test_supported_range_is_the_pyproject_pin():
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [r.specifier for r in map(Requirement, dependencies) if r.name == "flwr"]
    assert pins == [SpecifierSet(flower_compat.SUPPORTED_FLWR)]


@pytest.mark.parametrize("version", ["1.42.0", "1.42.7"])
def test_supported_versions_pass(version):
    check_flwr_version(version)


@pytest.mark.parametrize("version", ["1.43.0", "1.41.2", "1.42.0rc1", "1.43.0.dev20260101", "2.0.0", "unknown"])
def test_other_versions_fail_in_one_line_naming_both_versions_and_the_fix(version):
    with pytest.raises(FlowerVersionError) as raised:
        check_flwr_version(version)
    assert str(raised.value) == (
        f"flwr {version} is installed but FedForge supports flwr>=1.42,<1.43 only (it uses Flower internals, "
        "see fedforge/fl/flower_compat.py); fix: pip install 'flwr>=1.42,<1.43'")


def test_importing_the_fence_under_another_flwr_stops_before_any_private_import():
    code = "import flwr; flwr.__version__ = '1.99.0'; import fedforge.fl.flower_compat"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "fedforge.fl.flower_compat.FlowerVersionError: flwr 1.99.0 is installed but FedForge supports "
        "flwr>=1.42,<1.43 only (it uses Flower internals, see fedforge/fl/flower_compat.py); "
        "fix: pip install 'flwr>=1.42,<1.43'")


def test_flower_env_adds_the_quiet_settings_and_a_private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FLWR_TELEMETRY_ENABLED", "1")
    env = flower_compat.flower_env(tmp_path)
    assert {k: env[k] for k in flower_compat.FLOWER_ENV} == flower_compat.FLOWER_ENV
    assert env["FLWR_HOME"] == str(tmp_path) and env["PATH"] == os.environ["PATH"]


def test_task_identity_is_what_new_messages_carry():
    from flwr.app import Message, RecordDict

    flower_compat.set_task_identity(run_id=7, node_id=0)
    assert Message(RecordDict({}), 5, "train").metadata.run_id == 7


def test_the_supernode_idle_sleep_we_cap_is_still_a_fixed_3_s_sleep(monkeypatch):
    loop = flower_compat.supernode_loop_module
    assert "time.sleep(3)" in inspect.getsource(loop.start_client_internal)
    slept = []
    monkeypatch.setattr(loop, "time", loop.time)  # restored after the test
    monkeypatch.setattr(time, "sleep", slept.append)
    flower_compat.cap_supernode_idle_poll(0.5)
    loop.time.sleep(3)
    loop.time.sleep(0.2)
    assert slept == [0.5, 0.2] and loop.time.monotonic is time.monotonic


def test_the_superexec_loop_takes_its_executor_from_the_get_executor_we_replace(monkeypatch):
    superexec = flower_compat.superexec_module
    assert "executor = get_executor(" in inspect.getsource(superexec.run_superexec)
    ran = {}
    monkeypatch.setattr(superexec, "get_executor", superexec.get_executor)  # restored after the test
    monkeypatch.setattr(superexec, "run_superexec", lambda **kwargs: ran.update(kwargs, executor=superexec.get_executor()))
    executor = flower_compat.SubprocessExecutor()
    flower_compat.run_superexec_with(executor, "127.0.0.1:9", insecure=True, root_certificates_path=None, parent_pid=3)
    assert ran == {"runtime_api_address": "127.0.0.1:9", "insecure": True, "root_certificates_path": None,
                   "parent_pid": 3, "runtime_dependency_install": False, "executor": executor}


def test_a_forked_clientapp_forgets_the_parents_exit_handlers(monkeypatch):
    handlers = flower_compat.exit_handler
    monkeypatch.setattr(handlers, "registered_exit_handlers", ["the parent's close()"])
    calls = []
    monkeypatch.setattr(flower_compat, "run_clientapp", lambda **kwargs: calls.append(kwargs))
    spec = flower_compat.ExecutionSpec(task_type=flower_compat.TaskType.CLIENT_APP, runtime_api_address="127.0.0.1:9",
                                       token="t", insecure=True, root_certificates_path=None,
                                       runtime_dependency_install=False, parent_pid=None, suppress_output=False,
                                       task_id=1)
    flower_compat.run_forked_clientapp(spec)
    assert handlers.registered_exit_handlers == []
    assert calls == [{"runtime_api_address": "127.0.0.1:9", "token": "t", "insecure": True, "certificates": None,
                      "parent_pid": None, "runtime_dependency_install": False}]


def test_the_dp_noise_step_we_replace_is_where_flowers_wrapper_adds_its_noise():
    """Flower's client-side DP wrapper noises the FedAvg mean only in the step replace_dp_noise replaces, and
    ResumableClientSideDp's replacement is in place (so no noise is drawn from the global np.random)."""
    from flwr.serverapp.strategy import DifferentialPrivacyClientSideFixedClipping

    from fedforge.fl.privacy import ResumableClientSideDp

    aggregate = inspect.getsource(DifferentialPrivacyClientSideFixedClipping.aggregate_train)
    step = inspect.getsource(flower_compat.DpFixedClippingBase._add_noise_to_aggregated_arrays)
    assert "self._add_noise_to_aggregated_arrays(aggregated_arrays)" in aggregate and "np.random" not in aggregate
    assert "add_gaussian_noise_inplace(" in step  # Flower's draw from np.random.normal, which we replace
    assert ResumableClientSideDp._add_noise_to_aggregated_arrays is ResumableClientSideDp.add_noise
    with pytest.raises(TypeError, match="^FedAvg is not one of Flower's fixed-clipping DP wrappers$"):
        from flwr.serverapp.strategy import FedAvg

        flower_compat.replace_dp_noise(FedAvg, ResumableClientSideDp.add_noise)


class _FakeLinkState:
    """The parts of flwr's InMemoryLinkState the Simulation Engine's sweep touches; records which nodes it asks."""

    def __init__(self):
        import threading
        from types import SimpleNamespace

        self.lock, self.asked = threading.RLock(), []
        self.message_ins_store = {  # id -> message for node N, delivered or not yet
            msg_id: SimpleNamespace(id=msg_id, metadata=SimpleNamespace(dst_node_id=node, delivered_at=delivered))
            for msg_id, node, delivered in [("m1", 2, ""), ("m2", 1, "earlier"), ("m3", 3, ""), ("m4", 2, "")]}

    def get_message_ins(self, node_id, limit):
        self.asked.append(node_id)
        found = [m for m in self.message_ins_store.values()
                 if m.metadata.dst_node_id == node_id and m.metadata.delivered_at == ""][:limit]
        for message in found:
            message.metadata.delivered_at = "now"
        return found


class _TwoSweeps:
    """f_stop that lets the sweep loop run twice."""

    def __init__(self):
        self.checks = 0

    def is_set(self):
        self.checks += 1
        return self.checks > 2

    def wait(self, _seconds):
        pass


def _sweep_twice(sweep) -> tuple[list[str], list[int]]:
    """(ids queued, nodes asked) by a sweep function over three nodes, two passes."""
    import queue

    state, queued = _FakeLinkState(), queue.Queue()
    sweep(state, queued, {1: 0, 2: 1, 3: 2}, _TwoSweeps())
    return [queued.get_nowait().id for _ in range(queued.qsize())], state.asked


def test_the_simulation_sweep_we_replace_queues_what_flowers_queues_asking_only_nodes_with_work(monkeypatch):
    vce = flower_compat.vce_module
    assert "add_messages_to_queue" in vce.run_api.__code__.co_names  # run_api looks the sweep up by name
    monkeypatch.setattr(vce, "add_messages_to_queue", vce.add_messages_to_queue)  # restored after the test
    flowers = _sweep_twice(vce.add_messages_to_queue)
    flower_compat.sweep_undelivered_only()
    ours = _sweep_twice(vce.add_messages_to_queue)
    assert flowers == (["m1", "m3", "m4"], [1, 2, 3, 1, 2, 3])
    assert ours == (["m1", "m3", "m4"], [2, 3, 2])
