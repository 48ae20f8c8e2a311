"""Liveness of background service processes (gRPC server, Neo4j) recorded in pid files."""

from __future__ import annotations

import os
from pathlib import Path


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
