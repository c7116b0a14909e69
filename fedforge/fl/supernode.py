"""`flower-supernode` that asks the SuperLink for work every 0.5 s instead of every 3 s when idle.

Flower 1.42's SuperNode sleeps a fixed 3 s between pulls when it has no message (start_client_internal,
`time.sleep(3)`), so each message waits 1.5 s on average before a hospital even sees it, twice per round.
This entry point is the stock `flower-supernode` (same arguments, same behaviour) with only that sleep
capped at IDLE_POLL_SECONDS (flower_compat.cap_supernode_idle_poll). Used by the Deployment Engine for warm
ClientApps; remote hospitals may use either command.

    python -m fedforge.fl.supernode --superlink 127.0.0.1:9092 --insecure --node-config "partition-id=0 ..."
"""
from __future__ import annotations

from fedforge.fl.flower_compat import cap_supernode_idle_poll, flower_supernode

IDLE_POLL_SECONDS = 0.5


def main() -> None:
    """Run flower-supernode with the idle poll capped."""
    cap_supernode_idle_poll(IDLE_POLL_SECONDS)
    flower_supernode()


if __name__ == "__main__":
    main()
