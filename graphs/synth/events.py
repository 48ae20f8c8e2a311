"""A day's events as parallel NumPy arrays (internal indices), before they become a table."""

from __future__ import annotations

import numpy as np

from graphs.synth.config import EVENT_TYPES

ET = {name: i for i, name in enumerate(EVENT_TYPES)}
CONTENT_PER_ACCOUNT = 64
"""Internal content id = owner index × 64 + k; public id = public owner id × 64 + k."""
CONTENT_SHIFT = 6
"""``log2(CONTENT_PER_ACCOUNT)``: owner = content >> 6, k = content & 63."""
AUTO = -2
"""Device/IP placeholder: resolved from the actor's profile."""

COLUMNS = {"ts": np.int64, "actor": np.int32, "etype": np.int8, "tacct": np.int32, "content": np.int64,
           "text": np.int64, "dev": np.int32, "ip": np.int32, "abuse": np.bool_}
"""Column dtypes: account, device and IP indices fit 32 bits (half the bytes to copy and sort)."""

Events = dict[str, np.ndarray]


def make(ts: np.ndarray, actor: np.ndarray, etype: np.ndarray | int, tacct: np.ndarray | int = -1,
         content: np.ndarray | int = -1, text: np.ndarray | int = -1, dev: np.ndarray | int = AUTO,
         ip: np.ndarray | int = AUTO, abuse: bool = False) -> Events:
    """Build an event batch; scalars broadcast. ``ts`` is in milliseconds."""
    n = len(ts)
    out = {}
    for name, value in (("ts", ts), ("actor", actor), ("etype", etype), ("tacct", tacct), ("content", content),
                        ("text", text), ("dev", dev), ("ip", ip), ("abuse", abuse)):
        arr = np.asarray(value)
        out[name] = (np.full(n, arr, dtype=COLUMNS[name]) if arr.ndim == 0 else arr.astype(COLUMNS[name], copy=False))
    return out


def empty() -> Events:
    return {k: np.zeros(0, dtype=t) for k, t in COLUMNS.items()}


def concat(parts: list[Events]) -> Events:
    parts = [p for p in parts if len(p["ts"])]
    if not parts:
        return empty()
    return {k: np.concatenate([p[k] for p in parts]) for k in COLUMNS}


def take(ev: Events, idx: np.ndarray) -> Events:
    return {k: v[idx] for k, v in ev.items()}


def time_order(rel_ts: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable ``argsort`` of non-negative times, leaving out those at or after ``end``, and the
    times in that order.

    Each time is packed with its position into one int64 key (time in the high bits, position in
    the low ones): the keys are unique, so a plain (SIMD) sort of them is the stable order, several
    times faster than a stable argsort.
    """
    n = len(rel_ts)
    shift = max(n.bit_length(), 1)
    if int(end).bit_length() + shift > 62:  # a log too long to pack: the slow way
        order = np.argsort(rel_ts, kind="stable")
        order = order[rel_ts[order] < end]
        return order, rel_ts[order]
    key = np.minimum(rel_ts, end).astype(np.int64) << shift
    key |= np.arange(n, dtype=np.int64)
    key.sort()
    key = key[: int(np.searchsorted(key, int(end) << shift))]
    return key & ((1 << shift) - 1), key >> shift
