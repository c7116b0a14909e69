"""`fedforge` console script: every DVC stage is also a command, plus the monitor.

Commands import their module only when run, so `fedforge --help` is instant and a command needs only
its own dependencies. Each stage command runs exactly the function its `stages/<verb>.py` calls.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback

from fedforge.errors import UserError

DEBUG_ENV = "FEDFORGE_DEBUG"  # =1: an expected failure also prints its traceback

# name -> (module, function, what it does, which selector it takes: "dataset" | "phase" | None)
STAGE_COMMANDS = {
    "download": ("fedforge.data.download", "run_download",
                 "Fetch real MedMNIST (md5-verified) or synthesize the offline twin into data.root", "dataset"),
    "audit": ("fedforge.data.audit", "run_audit",
              "Check a dataset file against the MedMNIST schema and write audit metrics", "dataset"),
    "partition": ("fedforge.data.partition", "run_partition",
                  "Split the train split across simulated hospitals (iid / Dirichlet presets)", "dataset"),
    "preprocess": ("fedforge.data.preprocess", "run_preprocess",
                   "Write normalised, channel-first, memory-mappable arrays per client, val and test", "dataset"),
    "centralized": ("fedforge.train.centralized", "run_centralized",
                    "Train the centralized baseline with the Hugging Face Trainer", "dataset"),
    "federate": ("fedforge.fl.engine", "run_phase",
                 "Run one federated phase on Flower (local or deployment engine)", "phase"),
    "analysis": ("fedforge.analysis.report", "run_analysis",
                 "Execute the convergence notebook and export its HTML and figures", None),
}
# Commands with their own argument parsers: module exposes add_arguments(parser) and main(args) -> int.
OWN_PARSER_COMMANDS = {
    "monitor": ("fedforge.monitor.server.cli", "Serve the telemetry API, WebSocket and dashboard (FastAPI + SQLite)"),
    "compare": ("fedforge.compare", "Check the workspace's headline test metrics against a git revision's"),
    "grid": ("fedforge.grid", "Queue the experiment grid (dvc exp run --queue) and report it under docs/"),
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser; a test checks every command here is documented in README.md."""
    parser = argparse.ArgumentParser(prog="fedforge", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, _, help_text, selector) in STAGE_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
        if selector == "dataset":
            p.add_argument("--dataset", "-d", required=True, help="one of data.datasets, e.g. bloodmnist")
        elif selector == "phase":
            p.add_argument("--phase", "-p", required=True, help="a key of `phases` in params.yaml, e.g. A")
    for name, (module, help_text) in OWN_PARSER_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
    return parser


def run_stage(name: str, params: str = "params.yaml", **selector: str) -> object:
    """Load params once and run one stage function; stages/<verb>.py and the CLI both come here."""
    from fedforge import config

    module, func, _, _ = STAGE_COMMANDS[name]
    cfg = config.load(params)
    return getattr(importlib.import_module(module), func)(cfg, **selector)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the command, turn an expected failure (UserError) into one line and exit code 2.

    The traceback is shown only with FEDFORGE_DEBUG=1: `-v` cannot reach a stage that `dvc repro` runs.
    Anything else is a bug and keeps its traceback.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command in OWN_PARSER_COMMANDS:
            return importlib.import_module(OWN_PARSER_COMMANDS[args.command][0]).main(args) or 0
        selector = {k: getattr(args, k) for k in ("dataset", "phase") if getattr(args, k, None) is not None}
        run_stage(args.command, args.params, **selector)
        return 0
    except UserError as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            traceback.print_exc()
        message = " ".join(str(exc).split())  # one line, even when the message was wrapped
        print(f"fedforge {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
