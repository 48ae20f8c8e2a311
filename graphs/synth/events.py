"""A day's events as parallel NumPy arrays (internal indices), before they become a table."""

from __future__ import annotations

import numpy as np

from graphs.synth.config import EVENT_TYPES

ET = {name: i for i, name in enumerate(EVENT_TYPES)}
CONTENT_PER_ACCOUNT = 64
"""Internal content id = owner index × 64 + k; public id = public owner id × 64 + k."""
AUTO = -2
"""Device/IP placeholder: resolved from the actor's profile."""

COLUMNS = {"ts": np.int64, "actor": np.int64, "etype": np.int8, "tacct": np.int64, "content": np.int64,
           "text": np.int64, "dev": np.int64, "ip": np.int64, "abuse": np.bool_}


def make(ts: np.ndarray, actor: np.ndarray, etype: np.ndarray | int, tacct: np.ndarray | int = -1,
         content: np.ndarray | int = -1, text: np.ndarray | int = -1, dev: np.ndarray | int = AUTO,
         ip: np.ndarray | int = AUTO, abuse: bool = False) -> dict[str, np.ndarray]:
    """Build an event batch; scalars broadcast. ``ts`` is in milliseconds."""
    n = len(ts)
    out = {}
    for name, value in (("ts", ts), ("actor", actor), ("etype", etype), ("tacct", tacct), ("content", content),
                        ("text", text), ("dev", dev), ("ip", ip), ("abuse", abuse)):
        arr = np.asarray(value)
        out[name] = (np.full(n, arr, dtype=COLUMNS[name]) if arr.ndim == 0 else arr.astype(COLUMNS[name], copy=False))
    return out


def empty() -> dict[str, np.ndarray]:
    return {k: np.zeros(0, dtype=t) for k, t in COLUMNS.items()}


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    parts = [p for p in parts if len(p["ts"])]
    if not parts:
        return empty()
    return {k: np.concatenate([p[k] for p in parts]) for k in COLUMNS}


def take(ev: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in ev.items()}


def size(ev: dict[str, np.ndarray]) -> int:
    return len(ev["ts"])
