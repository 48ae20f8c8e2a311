"""Liveness of background service processes (gRPC server, Neo4j) recorded in pid files."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from ringwatch.errors import ServiceError


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live, non-zombie process; reaps it when it is our exited child.

    Args:
        pid: Process id from a pid/state file.

    Returns:
        False for a missing, exited or zombie process; True otherwise (including a live
        process owned by another user).
    """
    if pid <= 0:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def process_start(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22), or
    ``None`` where that cannot be read. A pid and its start time name one process: a pid
    recorded before a crash or reboot may since belong to another."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_recorded_process(pid: int, started: int | None, marker: str) -> bool:
    """Whether ``pid`` is alive and is the process a state file recorded: the same start time
    (``started``), or, for a file from before start times were kept (``None``), a command line
    that mentions ``marker``."""
    if not pid_alive(pid):
        return False
    if started is not None:
        return process_start(pid) in (None, started)
    args = command_line(pid)
    if args is None:
        return True  # cannot tell: trust the file, as before
    return any(marker in a for a in args)


def command_line(pid: int) -> list[str] | None:
    """The arguments ``pid`` was started with (``/proc/<pid>/cmdline``), or ``None`` where they
    cannot be read (no such process, another user's, no ``/proc``)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0")]


def send_signal(pid: int, sig: int, what: str) -> bool:
    """Send ``sig`` to ``pid``; ``False`` when the process is already gone.

    Raises:
        ServiceError: The process runs as another user (a shared home): ``what`` names it.
    """
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        raise ServiceError(f"cannot stop {what} (pid {pid}): it runs as another user; stop it as that user") from None
    return True


def terminate(pid: int, timeout_s: float, what: str) -> bool:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL and wait for the exit.

    Returns:
        True when the stop was clean (no SIGKILL was needed).

    Raises:
        ServiceError: The process runs as another user (:func:`send_signal`).
    """
    if not send_signal(pid, signal.SIGTERM, what):
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    if not send_signal(pid, signal.SIGKILL, what):
        return True
    while pid_alive(pid):
        time.sleep(0.05)
    return False
