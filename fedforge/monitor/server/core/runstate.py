"""The run-state machine behind the control API: which action moves which state where.

running --pause--> paused --resume--> running; running|paused --stop--> stopped;
stopped|failed --start--> running (relaunches the phase through DVC, which resumes from its checkpoint).
completed is final. Telemetry moves states too: run_started -> running, run_finished -> its status.
"""
from __future__ import annotations

RUN_STATES = ("running", "paused", "stopped", "completed", "failed")
TRANSITIONS: dict[str, dict[str, str]] = {
    "pause": {"running": "paused"},
    "resume": {"paused": "running"},
    "stop": {"running": "stopped", "paused": "stopped"},
    "start": {"stopped": "running", "failed": "running"},
}


class InvalidTransition(Exception):
    """An action the current state does not allow; the message names the state and what is allowed."""

    def __init__(self, run_id: str, action: str, state: str):
        self.state = state
        allowed = sorted(a for a, moves in TRANSITIONS.items() if state in moves)
        hint = f"allowed now: {', '.join(allowed)}" if allowed else "no control action applies to it"
        super().__init__(f"cannot {action} run {run_id}: it is {state}; {hint}")


def next_state(run_id: str, action: str, state: str) -> str:
    """The state `action` leads to from `state`, or InvalidTransition."""
    try:
        return TRANSITIONS[action][state]
    except KeyError:
        raise InvalidTransition(run_id, action, state) from None
