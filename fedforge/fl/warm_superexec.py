"""A SuperExec whose ClientApps start warm: fork a process that already imported the app, per message.

Flower's SuperExec starts a fresh `flwr-clientapp` for every message a SuperNode receives, and each one
imports torch + transformers + fedforge again (~7 CPU-seconds and ~1.2 GB here, see
benchmarks/federation_overhead.py). This SuperExec imports the ClientApp module once, then forks a child
per task; the child runs Flower's own `run_clientapp` (same token protocol, FAB install, error replies),
which finds the module already in sys.modules. Use it with `flower-supernode --isolation process`:

    flower-supernode --isolation process --port 9094 ... &
    python -m fedforge.fl.warm_superexec --runtime-api-address 127.0.0.1:9094 --insecure --parent-pid <pid>

Linux/macOS only (fork). The parent only imports (no torch ops, no threads of ours) before forking.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import traceback

from fedforge.fl.flower_compat import (
    ExecutionSpec,
    LaunchResult,
    SubprocessExecutor,
    TaskType,
    run_forked_clientapp,
    run_superexec_with,
)

PRELOAD = "fedforge.fl.client_app"


class ForkExecutor(SubprocessExecutor):
    """Forks a ClientApp task from this pre-imported process; other task types start as Flower does."""

    def __init__(self) -> None:
        super().__init__()
        self.owner = os.getpid()
        self.children: set[int] = set()

    def launch(self, spec: ExecutionSpec) -> LaunchResult:
        if spec.task_type != TaskType.CLIENT_APP:
            return super().launch(spec)
        pid = os.fork()
        if pid == 0:
            _run_child(spec)  # never returns
        self.children.add(pid)
        return LaunchResult.accepted()

    def reconcile(self) -> None:
        """Reap finished children so none lingers as a zombie."""
        for pid in list(self.children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.children.discard(pid)

    def close(self) -> None:
        """Stop running tasks when the SuperExec stops (only in the process that forked them)."""
        if os.getpid() != self.owner:
            return
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _run_child(spec: ExecutionSpec) -> None:
    """Body of a forked task: default signal handling, run the ClientApp, exit without the parent's cleanup."""
    code = 1
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        run_forked_clientapp(spec)
        code = 0
    except SystemExit as exc:  # run_clientapp ends with flwr_exit -> sys.exit(code)
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001 - report, never return into the parent's loop
        traceback.print_exc()
    finally:
        os._exit(code)


def main() -> None:
    """Import the ClientApp once, then run Flower's SuperExec loop with the forking executor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime-api-address", required=True, help="the SuperNode's Runtime API (host:port)")
    parser.add_argument("--insecure", action="store_true", help="plain HTTP to the Runtime API (loopback)")
    parser.add_argument("--root-certificates", default=None, help="CA PEM if the Runtime API uses TLS")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process (the SuperNode) dies")
    parser.add_argument("--preload", default=PRELOAD, help=f"module(s) to import up front, comma-separated "
                                                           f"(default {PRELOAD})")
    args = parser.parse_args()
    for module in filter(None, args.preload.split(",")):
        importlib.import_module(module)
    run_superexec_with(ForkExecutor(), args.runtime_api_address, insecure=args.insecure,
                       root_certificates_path=args.root_certificates, parent_pid=args.parent_pid)


if __name__ == "__main__":
    main()
