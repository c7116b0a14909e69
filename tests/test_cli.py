"""The `fedforge` CLI: every command has --help and is documented in README.md."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from fedforge import cli
from tests.conftest import REPO


def command_names() -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_every_stage_and_the_monitor_is_a_command():
    assert set(cli.STAGE_COMMANDS) | set(cli.OWN_PARSER_COMMANDS) == set(command_names())
    assert {"download", "audit", "partition", "preprocess"} <= set(command_names())


@pytest.mark.parametrize("command", command_names())
def test_every_command_is_documented_in_readme(command):
    readme = (REPO / "README.md").read_text()
    assert re.search(rf"fedforge {command}\b", readme), f"README.md never shows `fedforge {command} ...`"


@pytest.mark.parametrize("argv", [["--help"], *[[c, "--help"] for c in command_names()]])
def test_help_exits_zero(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_console_script_lists_commands():
    out = subprocess.run([sys.executable, "-m", "fedforge.cli", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for command in command_names():
        assert command in out


def test_stage_error_is_one_clear_line_and_exit_code_2(tmp_path, tiny_params_file, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data here: audit must say what is missing and how to make it
    assert cli.main(["audit", "--params", str(tiny_params_file), "--dataset", "bloodmnist"]) == 2
    err = capsys.readouterr().err
    assert "bloodmnist.npz: missing" in err and "dvc repro download@bloodmnist" in err


def test_dataset_outside_params_is_rejected(tiny_params_file, capsys):
    assert cli.main(["partition", "--params", str(tiny_params_file), "--dataset", "chestmnist"]) == 2
    assert "not in data.datasets" in capsys.readouterr().err
