"""Process liveness used by the background-service pid files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from services.processes import is_recorded_process, pid_alive, process_start, send_signal


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


def test_a_recycled_pid_is_not_the_recorded_process() -> None:
    me = os.getpid()
    started = process_start(me)
    assert started is not None
    assert is_recorded_process(me, started, "no-such-marker")
    assert not is_recorded_process(me, started + 1, "pytest")  # same pid, another start: another process
    other = subprocess.Popen(["sleep", "30"])
    while b"sleep" not in Path(f"/proc/{other.pid}/cmdline").read_bytes():  # until it has exec'd
        time.sleep(0.01)
    try:  # a state file from before start times were kept: the command line must be ours
        assert not is_recorded_process(other.pid, None, "ringwatch")
        assert is_recorded_process(other.pid, None, "sleep")
    finally:
        other.kill()
        other.wait()


def test_a_signal_to_a_process_that_is_gone_says_so() -> None:
    beyond = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process can have it: nothing is signalled
    assert send_signal(beyond, signal.SIGTERM, "the test child") is False
