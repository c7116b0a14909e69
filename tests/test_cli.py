"""The `fedforge` CLI: every command has --help and is documented in README.md or docs/."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fedforge import cli
from tests.conftest import REPO, tiny_params_dict, write_params


def command_names() -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_every_stage_and_the_monitor_is_a_command():
    assert set(cli.STAGE_COMMANDS) | set(cli.OWN_PARSER_COMMANDS) == set(command_names())
    assert {"download", "audit", "partition", "preprocess"} <= set(command_names())


@pytest.mark.parametrize("command", command_names())
def test_every_command_is_documented_in_readme(command):
    """Shown in README.md or a hand-written docs/ page (the generated docs/reference/cli.md does not count)."""
    pages = [REPO / "README.md", *(p for p in sorted((REPO / "docs").rglob("*.md")) if "reference" not in p.parts)]
    text = "\n".join(page.read_text() for page in pages)
    assert re.search(rf"fedforge {command}\b", text), f"neither README.md nor docs/ shows `fedforge {command} ...`"


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


# Every expected failure ends in one clear line on stderr and exit code 2; FEDFORGE_DEBUG=1 adds the traceback.
# The commands run as DVC runs them: a new process, through fedforge.cli.main (stages/*.py call it too).
def run_cli(args: list[str], cwd: Path, prelude: str = "", **env: str) -> subprocess.CompletedProcess:
    code = f"{prelude}\nimport sys\nfrom fedforge.cli import main\nsys.exit(main(sys.argv[1:]))"
    environ = {**os.environ, "PYTHONPATH": str(REPO), "FEDFORGE_DEBUG": "", "FEDFORGE_FAULTS": "",
               "FEDFORGE_MONITOR_URL": "", "FLWR_HOME": str(cwd / ".flwr"), "OMP_NUM_THREADS": "1", **env}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=600, check=False)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("fedforge ")]


def test_stage_scripts_go_through_the_cli_entry():
    for script in sorted((REPO / "stages").glob("*.py")):
        assert "sys.exit(main([" in script.read_text(), f"{script.name} must call fedforge.cli.main"


def test_config_error_is_one_line(tmp_path):
    params = tiny_params_dict()
    params["seed"] = "forty-two"
    write_params(tmp_path, params)
    result = run_cli(["audit", "--dataset", "bloodmnist"], tmp_path)
    assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
    assert result.stderr.startswith("fedforge audit: error: ") and "seed" in result.stderr


def test_missing_input_is_one_line_and_debug_shows_the_traceback(tmp_path):
    write_params(tmp_path, tiny_params_dict())
    result = run_cli(["audit", "--dataset", "bloodmnist"], tmp_path)
    assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
    assert "bloodmnist.npz: missing; run `dvc repro download@bloodmnist` first" in result.stderr
    debug = run_cli(["audit", "--dataset", "bloodmnist"], tmp_path, FEDFORGE_DEBUG="1")
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "MissingInputError" in debug.stderr
    assert debug.stderr.splitlines()[-1] == result.stderr.strip()


def test_data_error_is_one_line(tmp_path, tiny_data):
    write_params(tmp_path, tiny_params_dict(**{"partition.min_client_size": 10_000}))
    npz = tmp_path / tiny_data.npz.relative_to(tiny_data.root)
    npz.parent.mkdir(parents=True)
    shutil.copy(tiny_data.npz, npz)
    result = run_cli(["partition", "--dataset", "bloodmnist"], tmp_path)
    assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
    assert "partition.min_client_size=10000" in result.stderr


def federate_below_min_clients(tmp_path, prelude: str = "", **env: str) -> subprocess.CompletedProcess:
    from tests.fl.conftest import tiny_raw, write_tiny_data

    write_tiny_data(tmp_path)
    write_params(tmp_path, tiny_raw(min_clients=2))
    return run_cli(["federate", "--phase", "T"], tmp_path, prelude, **env)


@pytest.mark.slow
def test_min_clients_failure_is_one_error_line_without_traceback(tmp_path):
    result = federate_below_min_clients(tmp_path, FEDFORGE_FAULTS="client_0:train:1")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert error_lines(result) == [result.stderr.splitlines()[-1]]
    assert "round 1: only 1 of 2 clients" in error_lines(result)[0]


@pytest.mark.slow
def test_stop_is_one_error_line_without_traceback(tmp_path):
    stop_after_round_1 = ("from fedforge.monitor.client.control import RunControl\n"
                          "RunControl.wait_if_paused = lambda self: 'stopped'")
    result = federate_below_min_clients(tmp_path, stop_after_round_1)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert error_lines(result) == [result.stderr.splitlines()[-1]]
    assert "phase T stopped from the monitor after round 1" in error_lines(result)[0]
