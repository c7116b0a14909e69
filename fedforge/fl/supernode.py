"""`flower-supernode` that asks the SuperLink for work every 0.5 s instead of every 3 s when idle.

Flower 1.42's SuperNode sleeps a fixed 3 s between pulls when it has no message (start_client_internal,
`time.sleep(3)`), so each message waits 1.5 s on average before a hospital even sees it, twice per round.
This entry point is the stock `flower-supernode` (same arguments, same behaviour) with only that sleep
capped, by giving start_client_internal its own `time` module whose sleep() waits at most IDLE_POLL_SECONDS.
Used by the Deployment Engine for warm ClientApps; remote hospitals may use either command.

    python -m fedforge.fl.supernode --superlink 127.0.0.1:9092 --insecure --node-config "partition-id=0 ..."
"""
from __future__ import annotations

import time
import types

from flwr.supernode import start_client_internal
from flwr.supernode.cli import flower_supernode

IDLE_POLL_SECONDS = 0.5


def _capped_sleep(seconds: float) -> None:
    time.sleep(min(seconds, IDLE_POLL_SECONDS))


def main() -> None:
    """Run flower-supernode with the idle poll capped (only inside start_client_internal)."""
    start_client_internal.time = types.SimpleNamespace(**{**vars(time), "sleep": _capped_sleep})
    flower_supernode()


if __name__ == "__main__":
    main()
