"""The one base class of the failures a user can fix: the CLI turns each into one line and exit code 2.

Anything else is a bug and keeps its traceback. Each subclass lives beside the code that raises it
(ConfigError in config.py, DataError in data/, PhaseFailed and StopRequested in fl/ ...).
"""
from __future__ import annotations


class UserError(Exception):
    """An expected failure whose message names the problem and the fix (bad params, missing input, stop)."""


class MissingInputError(UserError, FileNotFoundError):
    """A stage's input (another stage's output, a model directory) is not there; the message names the command."""
