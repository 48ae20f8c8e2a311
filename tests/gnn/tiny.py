"""A tiny snapshot with a planted ring, published in the contract layout."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from ringwatch.types import SNAPSHOT_ACCOUNTS, SNAPSHOT_RELATIONS_DIR
from ringwatch.versions import Home

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
RING = [f"r{i}" for i in range(8)]
NORMAL = [f"n{i:02d}" for i in range(60)]


def _edges(pairs: list[tuple[str, str]], count: int = 1) -> pl.DataFrame:
    return pl.DataFrame({"src": [a for a, _ in pairs], "dst": [b for _, b in pairs], "count": [count] * len(pairs),
                         "first_ts": [T0] * len(pairs), "last_ts": [T0] * len(pairs)},
                        schema_overrides={"count": pl.Int64, "first_ts": pl.Datetime("us", "UTC"), "last_ts": pl.Datetime("us", "UTC")})


def publish_tiny(home: Home, extra_ring_member: str | None = None, seed: int = 0) -> str:
    """Publish a snapshot: 60 normal accounts, an 8-account ring co-acting on everything.

    Ring members have bursty activity and co-act with each other; normal accounts follow
    each other at random. ``extra_ring_member`` adds one more account wired into the ring
    (an account that did not exist when the model was trained).
    """
    rng = np.random.default_rng(seed)
    ring = RING + ([extra_ring_member] if extra_ring_member else [])
    ids = sorted(NORMAL + ring)
    is_ring = np.array([i in ring for i in ids])
    n = len(ids)
    accounts = pl.DataFrame({
        "account_id": ids,
        "first_ts": [T0] * n, "last_ts": [T0] * n,
        "n_events": np.where(is_ring, rng.normal(300, 20, n), rng.normal(40, 15, n)).clip(1).astype(np.float32),
        "share_gaps_under_1m": np.where(is_ring, rng.uniform(0.6, 0.9, n), rng.uniform(0.0, 0.3, n)).astype(np.float32),
        "hour_entropy": np.where(is_ring, rng.uniform(0.1, 0.3, n), rng.uniform(0.5, 0.9, n)).astype(np.float32),
        "coaction_degree": np.where(is_ring, len(ring) - 1, 0).astype(np.float32),
    }, schema_overrides={"first_ts": pl.Datetime("us", "UTC"), "last_ts": pl.Datetime("us", "UTC")})
    follows = [(NORMAL[a], NORMAL[b]) for a, b in rng.integers(0, len(NORMAL), (150, 2)) if a != b]
    follows += [(r, NORMAL[j]) for r in ring for j in rng.integers(0, len(NORMAL), 3)]
    coaction = [(a, b) for i, a in enumerate(sorted(ring)) for b in sorted(ring)[i + 1:]]
    with home.snapshots.publish({"kind": "snapshot", "test": "tiny"}) as staging:
        accounts.write_parquet(staging / SNAPSHOT_ACCOUNTS)
        (staging / SNAPSHOT_RELATIONS_DIR).mkdir()
        _edges(sorted(set(follows))).write_parquet(staging / SNAPSHOT_RELATIONS_DIR / "follow.parquet")
        _edges(coaction, count=5).write_parquet(staging / SNAPSHOT_RELATIONS_DIR / "coaction.parquet")
    return str(home.snapshots.current())


def tiny_labels(ts: dt.datetime = T0) -> pl.DataFrame:
    """Six ring members abusive, thirty normal accounts benign."""
    ids = RING[:6] + NORMAL[:30]
    return pl.DataFrame({"account_id": ids, "label": [1] * 6 + [0] * 30, "source": ["test"] * 36, "ts": [ts] * 36},
                        schema_overrides={"ts": pl.Datetime("us", "UTC")})


def write_labels(path: Path, labels: pl.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    labels.write_parquet(path)
    return path
