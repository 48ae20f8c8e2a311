"""The Polars work of a graph build, one coarse task at a time.

Each function here is a plain function over files: it reads its inputs from disk, writes its
outputs to disk and returns a small summary dict. :mod:`graphs.build` runs them as Ray tasks;
tests can call them directly. Ray never sees an event row.

Work directory layout (``work``)::

    prepared/actor/b=<k>/<file>.parquet    valid events, split by hash of actor
    prepared/target/b=<k>/<file>.parquet   (target, ts, actor) rows, split by hash of target
    quarantine/<file>.parquet              bad rows with a reason
    buckets/<k>/...                        per-actor-bucket aggregates
    coaction/<k>.parquet                   per-target-bucket co-action pair counts
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import polars as pl

from graphs import features, relations, validate
from graphs.mapping import EventMapping
from graphs.readers import read_file

SLIM_TARGET_TYPES = relations.COACTION_TYPES


def file_key(path: str) -> str:
    """A short stable name for an input file, used to name its outputs."""
    return hashlib.sha1(path.encode()).hexdigest()[:16]


def _bucket(expr: pl.Expr, n: int) -> pl.Expr:
    return (expr.hash(seed=42) % n).cast(pl.Int32)


def prepare_file(path: str, mapping: EventMapping, work: str, n_buckets: int, now_iso: str,
                 since_iso: str | None = None, until_iso: str | None = None) -> dict[str, Any]:
    """Read one file, validate it, quarantine bad rows, and split good rows into buckets.

    Args:
        path: The event file.
        mapping: How the file's columns map onto the canonical schema.
        work: The build's work directory.
        n_buckets: Number of hash buckets for actors and targets.
        now_iso: The build's clock, for the future-timestamp rule.
        since_iso: Keep events at or after this time (others are out of window, not bad).
        until_iso: Keep events before this time.

    Returns:
        ``rows``, ``good``, ``bad`` (count per reason), ``out_of_window``, ``min_ts``,
        ``max_ts`` and ``labels`` (rows of the log's label column, if mapped).
    """
    root = Path(work)
    key = file_key(path)
    raw = read_file(path)
    mapped = mapping.apply(raw)
    norm = validate.normalise(mapped, mapping.ts_unit)
    good, bad = validate.split(norm, dt.datetime.fromisoformat(now_iso))
    # Duplicate event ids within the file: keep the first, quarantine the rest.
    if good["event_id"].null_count() < good.height:
        dup = good["event_id"].is_not_null() & good.select(pl.struct("actor_id", "event_id").is_duplicated()).to_series() \
            & ~good.select(pl.struct("actor_id", "event_id").is_first_distinct()).to_series()
        if dup.any():
            dups = good.filter(dup).with_columns(pl.lit("duplicate_event_id").alias("reason"),
                                                pl.lit(None, pl.String).alias("_raw_ts"), pl.lit(None, pl.String).alias("_raw_weight"))
            bad = pl.concat([bad, dups.select(bad.columns)], how="vertical_relaxed")
            good = good.filter(~dup)
    out_of_window = 0
    if since_iso or until_iso:
        keep = pl.lit(True)
        if since_iso:
            keep = keep & (pl.col("ts") >= dt.datetime.fromisoformat(since_iso))
        if until_iso:
            keep = keep & (pl.col("ts") < dt.datetime.fromisoformat(until_iso))
        before = good.height
        good = good.filter(keep)
        out_of_window = before - good.height

    labels = None
    if "_label" in good.columns:
        labels = good.select("actor_id", "ts", pl.col("_label").cast(pl.Int64, strict=False).alias("label"))
        good = good.drop("_label")
        bad = bad.drop("_label")
        lab_dir = root / "log_labels"
        lab_dir.mkdir(parents=True, exist_ok=True)
        labels.write_parquet(lab_dir / f"{key}.parquet")

    if bad.height:
        qdir = root / "quarantine"
        qdir.mkdir(parents=True, exist_ok=True)
        validate.quarantine_rows(bad, path).write_parquet(qdir / f"{key}.parquet")

    good = good.with_columns(_bucket(pl.col("actor_id"), n_buckets).alias("_b"))
    for (b,), part in good.partition_by("_b", as_dict=True).items():
        d = root / "prepared" / "actor" / f"b={b}"
        d.mkdir(parents=True, exist_ok=True)
        part.drop("_b").write_parquet(d / f"{key}.parquet")
    slim = good.filter(pl.col("event_type").is_in(SLIM_TARGET_TYPES)).select(
        relations.coaction_target(good).alias("target"), "ts", "actor_id"
    ).filter(pl.col("target").is_not_null())
    slim = slim.with_columns(_bucket(pl.col("target"), n_buckets).alias("_b"))
    for (b,), part in slim.partition_by("_b", as_dict=True).items():
        d = root / "prepared" / "target" / f"b={b}"
        d.mkdir(parents=True, exist_ok=True)
        part.drop("_b").write_parquet(d / f"{key}.parquet")

    reasons = bad.group_by("reason").len().rows() if bad.height else []
    return {
        "file": path,
        "rows": raw.height,
        "good": good.height,
        "bad": {r: int(n) for r, n in reasons},
        "out_of_window": out_of_window,
        "min_ts": good["ts"].min() if good.height else None,
        "max_ts": good["ts"].max() if good.height else None,
        "labels": 0 if labels is None else labels.height,
    }


def actor_bucket(work: str, bucket: int) -> dict[str, Any]:
    """Features, direct edges and infrastructure usage for the actors of one bucket.

    Cross-file duplicate ``event_id``s of the same actor are quarantined here.
    """
    root = Path(work)
    src = root / "prepared" / "actor" / f"b={bucket}"
    out = root / "buckets" / str(bucket)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob("*.parquet")) if src.is_dir() else []
    if not files:
        return {"bucket": bucket, "accounts": 0, "duplicates": 0}
    events = pl.read_parquet(files)
    dup = events["event_id"].is_not_null() & events.select(pl.struct("actor_id", "event_id").is_duplicated()).to_series() \
        & ~events.select(pl.struct("actor_id", "event_id").is_first_distinct()).to_series()
    n_dup = int(dup.sum())
    if n_dup:
        qdir = root / "quarantine"
        qdir.mkdir(parents=True, exist_ok=True)
        bad = events.filter(dup).with_columns(pl.lit("duplicate_event_id").alias("reason"),
                                              pl.lit(None, pl.String).alias("_raw_ts"), pl.lit(None, pl.String).alias("_raw_weight"))
        validate.quarantine_rows(bad, f"bucket {bucket}").write_parquet(qdir / f"bucket-{bucket}.parquet")
        events = events.filter(~dup)
    features.actor_features(events).write_parquet(out / "features.parquet")
    relations.direct_edges(events).write_parquet(out / "edges.parquet")
    relations.key_usage(events, "device_id").rename({"device_id": "key"}).write_parquet(out / "device.parquet")
    relations.key_usage(events, "ip").rename({"ip": "key"}).write_parquet(out / "ip.parquet")
    relations.key_usage(events, "text_hash").rename({"text_hash": "key"}).write_parquet(out / "text.parquet")
    return {"bucket": bucket, "accounts": int(events["actor_id"].n_unique()), "duplicates": n_dup}


def target_bucket(work: str, bucket: int, window_s: int, max_actors: int) -> dict[str, Any]:
    """Co-action pair counts for the targets of one bucket."""
    root = Path(work)
    src = root / "prepared" / "target" / f"b={bucket}"
    files = sorted(src.glob("*.parquet")) if src.is_dir() else []
    out = root / "coaction"
    out.mkdir(parents=True, exist_ok=True)
    slim = pl.read_parquet(files) if files else pl.DataFrame(
        schema={"target": pl.String, "ts": pl.Datetime("us", "UTC"), "actor_id": pl.String})
    pairs = relations.coaction_pairs(slim, window_s, max_actors)
    pairs.write_parquet(out / f"{bucket}.parquet")
    return {"bucket": bucket, "pairs": pairs.height}
