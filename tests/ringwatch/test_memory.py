"""Freed memory kept for reuse, measured on a fresh interpreter's resident size; NumPy's huge-page
request withdrawn, read from the kernel's flags on the array's mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ringwatch.cli import common

ROOT = Path(__file__).resolve().parents[2]
MIB = 2**20

# allocate and free 256 MiB (above glibc's largest mmap threshold, so by default it is unmapped
# on free), then allocate it again; print the resident growth after the free and after the reuse
_PROBE = """
import sys
import numpy as np
from ringwatch.memory import retain_freed_memory

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

took = retain_freed_memory() if sys.argv[1] == "retain" else None
base = rss()
a = np.ones(64 * 2**20, np.float32)
del a
after_free = rss() - base
b = np.ones(64 * 2**20, np.float32)
print(took, after_free, rss() - base)
"""

# a 64 MiB array, and whether the kernel holds a huge-page request (VmFlags "hg") on its mapping
_PAGES_PROBE = """
import sys
import numpy as np
from ringwatch.memory import use_small_pages

def flags_at(address):
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            head = line.split()[0]
            if "-" in head and all(c in "0123456789abcdef-" for c in head):
                lo, hi = (int(v, 16) for v in head.split("-"))
                inside = lo <= address < hi
            elif inside and line.startswith("VmFlags:"):
                return line.split()[1:]
    return []

took = use_small_pages() if sys.argv[1] == "small" else None
a = np.ones(16 * 2**20, np.float32)
print(took, "hg" in flags_at(a.ctypes.data + a.nbytes // 2))
"""

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/proc/self/statm").exists(),
                                reason="mallopt and /proc/self/statm are glibc/Linux; other allocators keep their own policies")
linux_only = pytest.mark.skipif(not Path("/proc/self/smaps").exists(),
                                reason="transparent huge pages and /proc/self/smaps are Linux's")


def _run(probe: str, mode: str) -> list[str]:
    """The words a probe script prints, run in a fresh interpreter with ``mode``."""
    return subprocess.run([sys.executable, "-c", probe, mode], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.split()


def _probe(mode: str) -> tuple[str, int, int]:
    took, after_free, after_reuse = _run(_PROBE, mode)
    return took, int(after_free), int(after_reuse)


@glibc_only
def test_freed_memory_stays_in_the_process_and_is_reused() -> None:
    took, after_free, after_reuse = _probe("retain")
    assert took == "True"
    assert after_free > 200 * MIB  # the 256 MiB buffer stays resident after its free ...
    assert after_reuse < after_free + 16 * MIB  # ... and the next one is served from it, not from new pages


@glibc_only
def test_by_default_glibc_gives_a_large_freed_buffer_back() -> None:
    took, after_free, _ = _probe("default")
    assert took == "None"
    assert after_free < 32 * MIB


def _pages_probe(mode: str) -> tuple[str, bool]:
    took, huge = _run(_PAGES_PROBE, mode)
    return took, huge == "True"


@linux_only
def test_numpy_asks_for_huge_pages_as_it_ships_and_not_after_use_small_pages() -> None:
    assert _pages_probe("default") == ("None", True)
    assert _pages_probe("small") == ("True", False)


@pytest.mark.parametrize(("variable", "value", "calls_to", "called"), [
    ("RINGWATCH_RETAIN_FREED_MEMORY", "false", "retain_freed_memory", False),
    ("RINGWATCH_RETAIN_FREED_MEMORY", "true", "retain_freed_memory", True),
    ("RINGWATCH_RETAIN_FREED_MEMORY", None, "retain_freed_memory", True),
    ("RINGWATCH_HUGE_PAGES", "true", "use_small_pages", False),
    ("RINGWATCH_HUGE_PAGES", "false", "use_small_pages", True),
    ("RINGWATCH_HUGE_PAGES", None, "use_small_pages", True),
])
def test_batch_commands_tune_memory_as_the_settings_say(monkeypatch: pytest.MonkeyPatch, variable: str, value: str | None,
                                                        calls_to: str, called: bool) -> None:
    calls: dict[str, int] = {}
    for name in ("retain_freed_memory", "use_small_pages"):  # neither may change this test process's memory
        monkeypatch.setattr(common, name, lambda name=name: calls.update({name: calls.get(name, 0) + 1}) or True)
    if value is None:
        monkeypatch.delenv(variable, raising=False)
    else:
        monkeypatch.setenv(variable, value)
    common.settings.cache_clear()
    try:
        common.batch_settings()
    finally:
        common.settings.cache_clear()
    assert calls.get(calls_to, 0) == (1 if called else 0)
