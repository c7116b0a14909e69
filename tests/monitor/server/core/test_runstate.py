import itertools

import pytest

from fedforge.monitor.server.core.runstate import RUN_STATES, TRANSITIONS, InvalidTransition, next_state

VALID = {("pause", "running"): "paused", ("resume", "paused"): "running", ("stop", "running"): "stopped",
         ("stop", "paused"): "stopped", ("start", "stopped"): "running", ("start", "failed"): "running"}


@pytest.mark.parametrize("action,state", list(itertools.product(TRANSITIONS, RUN_STATES)))
def test_every_action_from_every_state(action, state):
    if (action, state) in VALID:
        assert next_state("r", action, state) == VALID[(action, state)]
    else:
        with pytest.raises(InvalidTransition, match=f"it is {state}") as exc:
            next_state("r", action, state)
        assert exc.value.state == state


def test_completed_is_final_and_says_so():
    with pytest.raises(InvalidTransition, match="no control action applies"):
        next_state("r", "start", "completed")


def test_refusal_lists_allowed_actions():
    with pytest.raises(InvalidTransition, match="allowed now: pause, stop"):
        next_state("r", "resume", "running")
