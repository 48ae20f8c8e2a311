"""Process liveness used by the background-service pid files."""

from __future__ import annotations

import os
import subprocess
import sys

from services.processes import pid_alive


def test_live_exited_and_bogus_pids() -> None:
    assert pid_alive(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
    assert not pid_alive(-1)


def test_exited_child_not_yet_reaped_is_not_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    while True:  # until it has exited (a zombie until reaped)
        try:
            with open(f"/proc/{proc.pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
    assert not pid_alive(proc.pid)
