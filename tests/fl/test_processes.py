"""Process hygiene helpers: the tree watchdog leaves a running stage's processes alone and stops them all once
the stage is gone, even by SIGKILL (the Simulation Engine's end-to-end kill tests are in test_simulation.py)."""
from __future__ import annotations

import subprocess
import time

import psutil

from fedforge.fl.processes import running, start_watchdog, tree_watchdog


def test_tree_watchdog_stops_the_whole_tree_once_the_parent_is_gone():
    stage = subprocess.Popen(["sleep", "300"])
    root = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"])  # a tree two levels deep
    dog = start_watchdog(tree_watchdog, stage.pid, root.pid)
    try:
        deadline = time.monotonic() + 30
        while len(psutil.Process(root.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        tree = [psutil.Process(root.pid), *psutil.Process(root.pid).children()]
        time.sleep(3)  # the watchdog imports and polls the tree a few times
        assert (len(tree), running(tree), dog.poll()) == (3, tree, None)  # the stage lives: nothing touched
        stage.kill()
        stage.wait()
        assert dog.wait(timeout=60) == 0
        assert running(tree) == []
    finally:
        for proc in (stage, root, dog):
            proc.kill()
            proc.wait()
