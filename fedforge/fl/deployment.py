"""Deployment Engine for one phase: a SuperLink and one SuperNode per hospital on this machine, then teardown.

The same Flower apps as the local engine run as separate processes that talk HTTP on 127.0.0.1, exactly
as SuperNodes on other machines would. We start the processes, submit the run with `flwr run`, poll its
status to the end and stop every process we started -- with all their descendants, because SuperExec,
flwr-serverapp and flwr-clientapp run in sessions of their own -- on success, failure, Ctrl-C and SIGTERM.
Every process logs to artifacts/deployment/<phase>/logs/, so a failed run can be diagnosed afterwards.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import tomli_w

from fedforge import paths
from fedforge.config import Config
from fedforge.errors import UserError
from fedforge.fl.flower_compat import control_client, flower_env, run_status
from fedforge.fl.processes import (
    FLOWER_PROCESSES,
    STOP_GRACE_SECONDS,
    die_with_parent,
    flower_processes_in,
    sigterm_as_interrupt,
    start_watchdog,
    stop,
    watchdog,
)

log = logging.getLogger(__name__)

CONNECTION = "fedforge"  # the [superlink.fedforge] entry in the private $FLWR_HOME/config.toml
SERVERAPP = "fedforge.fl.server_app:app"
CLIENTAPP = "fedforge.fl.client_app:app"
STATUS_POLL_SECONDS = 1.0
STARTUP_TIMEOUT_SECONDS = 60.0



class DeploymentError(UserError, RuntimeError):
    """The Deployment Engine could not start, or the run ended in another state than finished:completed."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS SuperLink: the CA that signed it (SuperNodes and `flwr` trust it), cert and key."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS says is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_app(app_dir: Path, app_config: dict, *, serverapp: str = SERVERAPP, clientapp: str = CLIENTAPP,
              name: str = "fedforge-phase") -> Path:
    """A Flower app folder whose components are the installed fedforge apps and whose run_config is app_config.

    The bundle holds only this pyproject.toml: code comes from the installed package, data paths from
    app_config (absolute), so nothing depends on where Flower unpacks the bundle ($FLWR_HOME/apps/...).
    """
    app_dir.mkdir(parents=True, exist_ok=True)
    pyproject = {
        "build-system": {"requires": ["hatchling"], "build-backend": "hatchling.build"},
        "project": {"name": name, "version": "1.0.0", "description": "FedForge federated phase",
                    "license": "Apache-2.0", "dependencies": []},
        "tool": {"flwr": {"app": {"publisher": "fedforge",
                                  "components": {"serverapp": serverapp, "clientapp": clientapp},
                                  "config": dict(app_config)}}},
    }
    (app_dir / "pyproject.toml").write_text(tomli_w.dumps(pyproject))
    return app_dir


@dataclass
class Federation:
    """A SuperLink and SuperNodes on 127.0.0.1 owned by this process; `with` guarantees their teardown."""

    run_dir: Path
    tls: TlsFiles | None = None
    superlink_args: tuple[str, ...] = ()
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir).resolve()
        self.flwr_home = self.run_dir / "flwr_home"
        self.log_dir = self.run_dir / "logs"
        shutil.rmtree(self.flwr_home, ignore_errors=True)  # a fresh private FLWR_HOME per run
        self.flwr_home.mkdir(parents=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = flower_env(self.flwr_home)
        self._ports: set[int] = set()
        self._client = None
        self._saved_flwr_home = os.environ.get("FLWR_HOME")
        # not in self.procs: it must outlive us if we are SIGKILLed
        self._watchdog = start_watchdog(watchdog, os.getpid(), str(self.run_dir), cwd=self.run_dir)

    # -- processes ---------------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        log.info("starting %s: %s (log: %s)", name, " ".join(cmd), self.log_dir / f"{name}.log")
        out = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env or self.env, cwd=self.run_dir, start_new_session=True,
                                # only a prctl() between fork and exec; we start no threads of our own
                                preexec_fn=die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509
        out.close()
        self.procs[name] = proc
        return proc

    def _tls_args(self, node: bool) -> list[str]:
        if self.tls is None:
            return ["--insecure"]
        if node:
            return ["--root-certificates", str(self.tls.ca_cert)]
        return ["--ssl-ca-certfile", str(self.tls.ca_cert), "--ssl-certfile", str(self.tls.server_cert),
                "--ssl-keyfile", str(self.tls.server_key)]

    def start_superlink(self) -> None:
        """Start flower-superlink on a free port (Fleet, Control and ServerApp APIs share it) and wait for it."""
        self.port = free_port()
        self._ports.add(self.port)
        self._spawn("superlink", ["flower-superlink", *self._tls_args(node=False), "--host", "127.0.0.1",
                                  "--port", str(self.port), "--disable-runtime-dependency-installation",
                                  *self.superlink_args])
        self._wait_listening(self.port, "superlink")
        self._write_connection()

    def start_supernode(self, partition_id: int, num_partitions: int, *, warm: bool = False,
                        auth_key: Path | None = None, env: dict | None = None, name: str | None = None
                        ) -> subprocess.Popen:
        """Start one flower-supernode for hospital `partition_id` (its own Runtime API port).

        warm=True runs it with `--isolation process` plus fedforge's warm SuperExec, which forks ClientApps
        from a process that imported them once instead of starting a fresh `flwr-clientapp` per message,
        and polls the SuperLink every 0.5 s when idle (fedforge.fl.supernode) instead of every 3 s.
        """
        port = free_port()
        self._ports.add(port)
        name = name or f"supernode_{partition_id}"
        env = {**self.env, **(env or {})}
        # warm: FedForge's entry point = stock flower-supernode with a 0.5 s instead of 3 s idle poll
        launcher = [sys.executable, "-m", "fedforge.fl.supernode"] if warm else ["flower-supernode"]
        cmd = [*launcher, *self._tls_args(node=True), "--superlink", f"127.0.0.1:{self.port}",
               "--host", "127.0.0.1", "--port", str(port),
               "--node-config", f"partition-id={partition_id} num-partitions={num_partitions}"]
        if auth_key is not None:
            cmd += ["--auth-supernode-private-key", str(auth_key)]
        if warm:
            cmd += ["--isolation", "process"]
        node = self._spawn(name, cmd, env=env)
        if warm:
            self._spawn(f"{name}_superexec", [sys.executable, "-m", "fedforge.fl.warm_superexec", "--insecure",
                                              "--runtime-api-address", f"127.0.0.1:{port}",
                                              "--parent-pid", str(node.pid)], env=env)
        return node

    def _wait_listening(self, port: int, name: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self._check_alive(name)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            time.sleep(0.2)
        raise DeploymentError(f"{name} did not listen on 127.0.0.1:{port} within {STARTUP_TIMEOUT_SECONDS:.0f} s;"
                              f" see {self.log_dir / (name + '.log')}")

    def _check_alive(self, name: str) -> None:
        code = self.procs[name].poll()
        if code is not None:
            raise DeploymentError(f"{name} exited with code {code}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        """Last lines of one process's log (for error messages)."""
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
        return f"--- {path} (last {lines} lines) ---\n" + "\n".join(text)

    # -- flwr CLI ----------------------------------------------------------------------------------
    def _write_connection(self) -> None:
        conn = {"address": f"127.0.0.1:{self.port}"}
        conn.update({"insecure": True} if self.tls is None else {"root-certificates": str(self.tls.ca_cert)})
        config = {"superlink": {"default": CONNECTION, CONNECTION: conn}}
        (self.flwr_home / "config.toml").write_text(tomli_w.dumps(config))

    def flwr(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run one `flwr` CLI command against this SuperLink (private FLWR_HOME); output captured."""
        return subprocess.run(["flwr", *args], check=False, env=self.env, cwd=self.run_dir, capture_output=True, text=True,
                              timeout=timeout)

    def register_supernode(self, public_key: Path) -> None:
        """Allow a SuperNode's key on a SuperLink started with --enable-supernode-auth (`flwr supernode register`)."""
        res = self.flwr("supernode", "register", str(public_key), CONNECTION)
        if res.returncode != 0:
            raise DeploymentError(f"`flwr supernode register {public_key}` failed:\n{res.stdout}\n{res.stderr}")

    def submit(self, app_dir: Path) -> int:
        """`flwr run` the app folder; returns the run id (flwr returns right after submitting)."""
        res = self.flwr("run", str(app_dir), CONNECTION, "--format", "json")
        try:
            run_id = json.loads(res.stdout[res.stdout.index("{"):])["run-id"]
            return int(run_id)
        except (ValueError, KeyError, TypeError):
            raise DeploymentError(f"`flwr run` failed (exit {res.returncode}):\n{res.stdout}\n{res.stderr}") from None

    def run_logs(self, run_id: int) -> str:
        """The run's ServerApp log as the SuperLink keeps it (`flwr log --show`); "" if unavailable."""
        try:
            res = self.flwr("log", str(run_id), CONNECTION, "--show", timeout=30)
        except subprocess.TimeoutExpired:
            return ""
        return res.stdout

    def status(self, run_id: int) -> str:
        """Run status as `flwr list` shows it: pending, starting, running, finished:completed|failed|stopped.

        Through an in-process Control API client: `flwr list` would start an interpreter every poll.
        """
        if self._client is None:
            os.environ["FLWR_HOME"] = str(self.flwr_home)  # the CLI helpers look up credentials there
            logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per status poll otherwise
            self._client = control_client(CONNECTION, f"127.0.0.1:{self.port}",
                                          self.tls.ca_cert if self.tls else None)
        return run_status(self._client, run_id)

    def wait(self, run_id: int, *, min_nodes: int, timeout: float) -> str:
        """Poll until the run finishes; fail early if the SuperLink dies or too few SuperNodes remain."""
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            self._check_alive("superlink")
            status = self.status(run_id)
            if status.startswith("finished"):
                return status
            alive = [n for n, p in self.procs.items()
                     if n.startswith("supernode") and not n.endswith("superexec") and p.poll() is None]
            if len(alive) < min_nodes:
                raise DeploymentError(f"only {len(alive)} SuperNode(s) alive ({alive}) but the phase needs "
                                      f"{min_nodes}; see the supernode logs in {self.log_dir}")
            time.sleep(STATUS_POLL_SECONDS)
        raise DeploymentError(f"run {run_id} still {status!r} after {timeout:.0f} s; see {self.log_dir}")

    # -- teardown ----------------------------------------------------------------------------------
    def kill(self, name: str) -> None:
        """SIGKILL a process, its warm SuperExec if any, and all they started, as if the machine died (tests)."""
        for proc in (self.procs[n] for n in (name, f"{name}_superexec") if n in self.procs):
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.pid)
                tree = [root, *root.children(recursive=True)]
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        p.kill()
                psutil.wait_procs(tree, timeout=STOP_GRACE_SECONDS)
            proc.wait()

    def close(self) -> None:
        """Stop every process we started and all of its descendants; SIGKILL what ignores SIGTERM."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        if self._saved_flwr_home is None:
            os.environ.pop("FLWR_HOME", None)
        else:
            os.environ["FLWR_HOME"] = self._saved_flwr_home
        stop(self._our_processes)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_GRACE_SECONDS)
        if self._watchdog is not None:  # everything is down; the watchdog has nothing left to guard
            self._watchdog.terminate()
            self._watchdog.wait()

    def _our_processes(self) -> list[psutil.Process]:
        """Our children's trees, Flower processes naming one of our ports, and any Flower process in run_dir."""
        found: dict[int, psutil.Process] = {p.pid: p for p in flower_processes_in(self.run_dir)}
        for proc in self.procs.values():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.pid)
                for p in [root, *root.children(recursive=True)]:
                    found[p.pid] = p
        ports = {f"127.0.0.1:{port}" for port in self._ports}
        for p in psutil.process_iter(["cmdline", "status"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if p.info["status"] != psutil.STATUS_ZOMBIE and any(name in cmd for name in FLOWER_PROCESSES) \
                    and any(port in cmd for port in ports):
                found.setdefault(p.pid, p)
        return [p for p in found.values() if p.pid != os.getpid()]

    def __enter__(self) -> Federation:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def launch(fed: Federation, cfg: Config, phase: str, app_config: dict, **node_kwargs) -> int:
    """Start the SuperLink and one SuperNode per client in `fed`, submit the phase; returns the run id."""
    num = cfg.partition.num_clients
    fed.start_superlink()
    for i in range(num):
        fed.start_supernode(i, num, warm=cfg.federation.clientapp_start == "warm", **node_kwargs)
    components = {"serverapp": "fedforge.fl.secagg_app:server_app", "clientapp": "fedforge.fl.secagg_app:client_app"} \
        if cfg.federation.secure_aggregation == "secaggplus" else {}  # SecAgg+: the legacy-API apps
    run_id = fed.submit(write_app(fed.run_dir / "app", app_config, **components))
    log.info("phase %s submitted as run %s; SuperLink on 127.0.0.1:%s, %d SuperNodes (%s ClientApps); logs in %s",
             phase, run_id, fed.port, num, cfg.federation.clientapp_start, fed.log_dir)
    return run_id


def finish(fed: Federation, cfg: Config, phase: str, run_id: int) -> None:
    """Wait for the run to end, keep its ServerApp log; DeploymentError unless it ended finished:completed."""
    phase_cfg = cfg.phase(phase)
    timeout = phase_cfg.rounds * 2 * cfg.federation.round_timeout + 300  # a safety net, not a schedule
    status = fed.wait(run_id, min_nodes=phase_cfg.min_clients, timeout=timeout)
    server_log = fed.run_logs(run_id)
    (fed.log_dir / "serverapp.log").write_text(server_log)
    log.info("phase %s: Flower run %s %s", phase, run_id, status)
    if status != "finished:completed":
        tail = "\n".join(server_log.splitlines()[-40:])
        raise DeploymentError(f"phase {phase}: Flower run {run_id} ended {status!r}. ServerApp log (tail):\n"
                              f"{tail}\nAll process logs: {fed.log_dir}")


def run_deployment(cfg: Config, phase: str, app_config: dict) -> None:
    """Run one phase on a local SuperLink + one SuperNode per client; raise DeploymentError unless it completes."""
    repo_root = Path(app_config.get("repo-root", ".")).resolve()
    with sigterm_as_interrupt(), Federation(repo_root / paths.deployment_dir(phase)) as fed:
        finish(fed, cfg, phase, launch(fed, cfg, phase, app_config))

