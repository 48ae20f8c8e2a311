"""Per-account features computed from one actor bucket of events (Polars, no Python loops).

Features from the account's own events are computed here; features that need other
buckets (in-degree, reciprocity, infrastructure sharing, co-action) are joined in
:mod:`graphs.assemble`. Every feature is a float column; names are stable across versions.
"""

from __future__ import annotations

import math

import polars as pl

KNOWN_TYPES = ("follow", "like", "comment", "share", "message", "post", "login", "signup", "report", "unfollow")
"""Event types with their own count column; other types are counted in ``n_other``."""


def actor_features(events: pl.DataFrame) -> pl.DataFrame:
    """Aggregate each actor's events into one row of activity and timing features.

    Args:
        events: Valid canonical events whose actors all belong to this bucket.

    Returns:
        One row per ``account_id`` with ``first_ts``, ``last_ts`` and float features.
        ``n_targets`` and ``n_contents`` count "no target" as one more value: they also say
        whether the account does anything without one (logins, own posts). Counting named
        targets only was measured on 2026-12-07 and cost the held-out synthetic platforms
        precision at every level (CRITICAL 0.947 → 0.930, lowest seed 0.869 → 0.753) with the
        ranking unchanged, so it stays (docs/quality-log.md).
    """
    ev = events.sort("actor_id", "ts")
    gaps = ev.with_columns(
        (pl.col("ts").diff().over("actor_id").dt.total_seconds(fractional=True)).alias("_gap"),
        pl.col("ts").dt.hour().alias("_hour"),
    )
    counts = [
        (pl.col("event_type") == t).sum().cast(pl.Float32).alias(f"n_{t}") for t in KNOWN_TYPES
    ]
    base = gaps.group_by("actor_id").agg(
        pl.col("ts").min().alias("first_ts"),
        pl.col("ts").max().alias("last_ts"),
        pl.len().cast(pl.Float32).alias("n_events"),
        *counts,
        (~pl.col("event_type").is_in(KNOWN_TYPES)).sum().cast(pl.Float32).alias("n_other"),
        pl.col("target_account_id").n_unique().cast(pl.Float32).alias("n_targets"),
        pl.col("target_content_id").n_unique().cast(pl.Float32).alias("n_contents"),
        pl.col("device_id").drop_nulls().n_unique().cast(pl.Float32).alias("n_devices"),
        pl.col("ip").drop_nulls().n_unique().cast(pl.Float32).alias("n_ips"),
        pl.col("ts").dt.date().n_unique().cast(pl.Float32).alias("active_days"),
        (pl.col("_gap") + 1.0).log().mean().cast(pl.Float32).alias("gap_log_mean"),
        (pl.col("_gap") + 1.0).log().std().cast(pl.Float32).alias("gap_log_std"),
        pl.col("_gap").mean().alias("_gmean"),
        pl.col("_gap").std().alias("_gstd"),
        (pl.col("_gap") < 60).mean().cast(pl.Float32).alias("share_gaps_under_1m"),
    )
    burst = ((pl.col("_gstd") - pl.col("_gmean")) / (pl.col("_gstd") + pl.col("_gmean")))
    base = base.with_columns(burst.fill_nan(0.0).fill_null(0.0).cast(pl.Float32).alias("burstiness")).drop("_gmean", "_gstd")

    hours = gaps.group_by("actor_id", "_hour").agg(pl.len().alias("_c"))
    entropy = hours.with_columns((pl.col("_c") / pl.col("_c").sum().over("actor_id")).alias("_p")).group_by("actor_id").agg(
        (-(pl.col("_p") * pl.col("_p").log()).sum() / math.log(24)).cast(pl.Float32).alias("hour_entropy")
    )
    return (
        base.join(entropy, on="actor_id", how="left")
        .rename({"actor_id": "account_id"})
        .with_columns(pl.col(pl.Float32).fill_null(0.0))
    )
