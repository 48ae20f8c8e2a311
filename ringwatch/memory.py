"""How the batch commands' processes come by memory: what they free is kept for reuse (glibc's
``mallopt``: :func:`retain_freed_memory`), and NumPy's arrays get small pages (:func:`use_small_pages`).

Scoring and training allocate and free buffers of hundreds of megabytes stage after stage
(NumPy and SciPy arrays, torch tensors, XGBoost inputs). glibc serves every buffer above its
mmap threshold (at most 32 MiB) with a mapping of its own and unmaps it on ``free``, so the
next stage's buffers are fresh pages that the kernel must fault in. On a virtual machine
whose host takes free guest pages back (free page reporting, as on the reference machine),
first-touching memory measured 3–7 s per GiB there, against 0.06 s per GiB for memory the
process had already touched; ``sys`` time (page faults) was over half of the 1M-account
scoring benchmark's wall time.

:func:`retain_freed_memory` tells glibc to serve large buffers from the heap too, never to
give the heap back, and to serve every thread from that one heap (the scorer runs its GNN in a
worker thread, whose own arena would map its large buffers afresh each time): freed buffers are
reused by the next allocation, at the price of a resident size that stays at the process's peak
until it exits (which the batch commands do). On the reference machine, 1M accounts / 10M edges:
training 188–214 s as glibc ships, 118–131 s with these settings; scoring in a fresh process,
seven alternated pairs, 14.4–22.3 s (mean 17.8) and 12.5–18.2 s (mean 15.0).

Most of that first-touch cost turned out to be NumPy's: it asks the kernel for transparent huge
pages (``madvise(MADV_HUGEPAGE)``) for every array of 4 MiB or more, and on that VM a fresh huge
page cost about ten times as much as small pages (a fresh 1 GiB array: 4–8 s, against 0.6–0.8 s
without the request). :func:`use_small_pages` withdraws the request: one trained benchmark home,
scored in fresh processes by the same code, 16.9–19.5 s with it (five runs), 11.4–14.5 s without (six).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
"""``mallopt`` parameter: free heap top kept before it is given back (bytes)."""
M_MMAP_MAX = -4
"""``mallopt`` parameter: how many allocations may get a mapping of their own."""
M_ARENA_MAX = -8
"""``mallopt`` parameter: how many arenas (heaps) the threads may spread over."""
NEVER_TRIM = 2**31 - 1
"""The largest threshold ``mallopt`` takes (an ``int``): in practice, never give the heap back."""


def retain_freed_memory() -> bool:
    """Make glibc keep freed memory in the process (see the module docstring).

    Call it before the process starts its worker threads: a thread that has allocated already
    keeps its own arena. Nothing happens off glibc (macOS, musl): those allocators keep their
    own policies.

    Returns:
        Whether the allocator took every setting.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # no libc by that name, or a libc without mallopt (musl)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all([mallopt(M_MMAP_MAX, 0) == 1, mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) == 1, mallopt(M_ARENA_MAX, 1) == 1])


def use_small_pages() -> bool:
    """Stop NumPy asking for transparent huge pages for its large arrays (see the module docstring).

    This is the switch NumPy itself reads ``NUMPY_MADVISE_HUGEPAGE`` into at import. It changes
    only how new arrays are faulted in, never their contents; it applies to arrays allocated
    after the call.

    Returns:
        Whether NumPy took it (``False`` for a NumPy without the switch).
    """
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # NumPy 1.x keeps it in numpy.core
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return False
    _set_madvise_hugepage(False)
    return True
