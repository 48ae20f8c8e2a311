"""The Polars work of a graph build, one coarse task at a time.

Each function here is a plain function over directories: it reads its inputs from disk,
writes its outputs into its own directory, marks it complete with a ``_SUCCESS`` file holding
its summary, and returns that summary. :mod:`graphs.build` runs them as Ray tasks; tests can
call them directly. Ray never sees an event row.

Because every output directory is named by a key of its inputs (see :mod:`graphs.build`), a
finished task is never redone: a re-run after a failure skips completed work, and an
incremental build for a new day of logs prepares only the new file.

Prepared file directory (one per input file)::

    actor/b=<k>.parquet     valid events whose actor hashes to bucket k
    target/b=<k>.parquet    (target, ts, actor, event id) rows whose target hashes to bucket k
    quarantine.parquet      bad rows with a reason
    labels.parquet          rows of the log's label column, if mapped

Bucket directory (one per bucket and set of inputs)::

    features.parquet edges.parquet device.parquet ip.parquet text.parquet
    response.parquet          per-actor answered / replying counts of the bucket's targets
    coaction/p=<k>.parquet    co-action pair counts, split by hash of src
    quarantine.parquet        cross-file duplicate event ids
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import polars as pl

from graphs import features, relations, validate
from graphs.mapping import EventMapping
from graphs.readers import read_file

SUCCESS = "_SUCCESS"


def done(directory: Path) -> dict[str, Any] | None:
    """The summary of a completed task directory, or None when it is absent or partial."""
    marker = Path(directory) / SUCCESS
    return json.loads(marker.read_text()) if marker.is_file() else None


def _finish(staging: Path, final: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Mark ``staging`` complete and move it to ``final`` (a concurrent twin may win; both are equal)."""
    (staging / SUCCESS).write_text(json.dumps(summary, default=str))
    try:
        staging.rename(final)
    except OSError:
        if done(final) is None:
            raise
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _staging(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and done(final) is None:
        shutil.rmtree(final, ignore_errors=True)  # a crashed attempt: start over
    staging = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def _bucket(expr: pl.Expr, n: int) -> pl.Expr:
    return (expr.hash(seed=42) % n).cast(pl.Int32)


def _duplicates(frame: pl.DataFrame) -> pl.Series:
    """Rows repeating an earlier (actor, event_id); the first occurrence is kept."""
    key = frame.select(pl.struct("actor_id", "event_id"))
    return frame["event_id"].is_not_null() & key.to_series().is_duplicated() & ~key.to_series().is_first_distinct()


def _as_bad(rows: pl.DataFrame, reason: str) -> pl.DataFrame:
    return rows.with_columns(pl.lit(reason).alias("reason"), pl.lit(None, pl.String).alias("_raw_ts"),
                             pl.lit(None, pl.String).alias("_raw_weight"))


def prepare_file(path: str, mapping: EventMapping, out: str, n_buckets: int, now_iso: str,
                 since_iso: str | None = None, until_iso: str | None = None) -> dict[str, Any]:
    """Read one file, validate it, quarantine bad rows, and split good rows into buckets.

    Args:
        path: The event file.
        mapping: How the file's columns map onto the canonical schema.
        out: This file's prepared directory (skipped when already complete).
        n_buckets: Number of hash buckets for actors and targets.
        now_iso: The build's clock, for the future-timestamp rule.
        since_iso: Keep events at or after this time (others are out of window, not bad).
        until_iso: Keep events before this time.

    Returns:
        ``rows``, ``good``, ``bad`` (count per reason), ``undated_bad`` (bad rows and lines
        without a readable time), ``future_range`` (first and last time quarantined as in the
        future, or None), ``out_of_window``, ``min_ts``, ``max_ts``, ``labels`` and ``cached``
        (True when an earlier run did the work).
    """
    final = Path(out)
    if (summary := done(final)) is not None:
        return {**summary, "cached": True}
    root = _staging(final)
    raw, malformed = read_file(path)
    if raw.width == 0 and malformed.is_empty():  # an empty file: nothing to map, check or split
        return {**_finish(root, final, {"file": path, "rows": 0, "good": 0, "bad": {}, "undated_bad": 0, "future_range": None,
                                        "out_of_window": 0, "min_ts": None, "max_ts": None, "labels": 0}), "cached": False}
    mapped = mapping.apply(raw)
    norm = validate.normalise(mapped, mapping.ts_unit)
    good, bad = validate.split(norm, dt.datetime.fromisoformat(now_iso))
    dup = _duplicates(good)
    if dup.any():
        bad = pl.concat([bad, _as_bad(good.filter(dup), "duplicate_event_id").select(bad.columns)], how="vertical_relaxed")
        good = good.filter(~dup)
    out_of_window = 0
    if since_iso or until_iso:
        keep = pl.lit(True)
        if since_iso:
            keep = keep & (pl.col("ts") >= dt.datetime.fromisoformat(since_iso))
        if until_iso:
            keep = keep & (pl.col("ts") < dt.datetime.fromisoformat(until_iso))
        before = good.height + bad.height
        good = good.filter(keep)
        # a bad row dated outside the window is not this build's: neither quarantined nor counted against it
        bad = bad.filter(pl.col("ts").is_null() | (pl.col("reason") == "bad_timestamp") | keep)
        out_of_window = before - good.height - bad.height

    n_labels = 0
    if "_label" in good.columns:
        value = pl.col("_label").cast(pl.Float64, strict=False)  # "1.0" is 1; anything but 0/1 is no label
        labels = good.select("actor_id", "ts", pl.when(value.is_in([0.0, 1.0])).then(value).cast(pl.Int64).alias("label"))
        labels.write_parquet(root / "labels.parquet")
        n_labels = labels.height
        good = good.drop("_label")
        bad = bad.drop("_label")
    quarantine = pl.concat([validate.quarantine_rows(bad, path), validate.quarantine_lines(malformed, path)])
    if quarantine.height:
        quarantine.write_parquet(root / "quarantine.parquet")

    (root / "actor").mkdir()
    (root / "target").mkdir()
    good = good.with_columns(_bucket(pl.col("actor_id"), n_buckets).alias("_b"))
    for (b,), part in good.partition_by("_b", as_dict=True).items():
        part.drop("_b").write_parquet(root / "actor" / f"b={b}.parquet")
    slim = good.filter(relations.coacts()).select(  # event ids: a duplicate across files is dropped here too
        relations.coaction_target(good).alias("target"), "ts", "actor_id", "event_id"
    ).filter(pl.col("target").is_not_null())
    slim = slim.with_columns(_bucket(pl.col("target"), n_buckets).alias("_b"))
    for (b,), part in slim.partition_by("_b", as_dict=True).items():
        part.drop("_b").write_parquet(root / "target" / f"b={b}.parquet")

    reasons = quarantine.group_by("reason").len().rows() if quarantine.height else []
    future = bad.filter(pl.col("reason") == "future_timestamp")["ts"]
    summary = {
        "file": path,
        "rows": raw.height + malformed.height,
        "good": good.height,
        "bad": {r: int(n) for r, n in reasons},
        # no window can claim these: the build judges them against every row read, not the window's
        "undated_bad": int((bad["ts"].is_null() | (bad["reason"] == "bad_timestamp")).sum()) + malformed.height,
        # when the first of these comes due, this file's verdicts are stale (graphs.build judges it again)
        "future_range": [future.min().isoformat(), future.max().isoformat()] if future.len() else None,
        "out_of_window": out_of_window,
        "min_ts": good["ts"].min().isoformat() if good.height else None,
        "max_ts": good["ts"].max().isoformat() if good.height else None,
        "labels": n_labels,
    }
    return {**_finish(root, final, summary), "cached": False}


def _read_parts(prepared: list[str], kind: str, bucket: int) -> list[Path]:
    return [p for d in prepared if (p := Path(d) / kind / f"b={bucket}.parquet").is_file()]


def bucket_aggregates(prepared: list[str], bucket: int, out: str, window_s: int, max_actors: int,
                      n_parts: int = 16, max_neighbors: int = 32) -> dict[str, Any]:
    """Features, direct edges, infrastructure usage, co-action and answer pairs of one bucket.

    The actor side reads this bucket's events from every prepared file; cross-file duplicate
    ``event_id``s of the same actor are quarantined here. The target side computes co-action
    pairs for the targets hashed to this bucket.

    Args:
        prepared: Prepared file directories of this build.
        bucket: The bucket.
        out: This bucket's output directory (skipped when already complete).
        window_s: Co-action window Δ in seconds.
        max_actors: Cap on actors per (target, window).
        n_parts: Co-action pairs are split into this many parts by hash of ``src``.
        max_neighbors: In crowded windows, time neighbours each actor pairs with.
    """
    final = Path(out)
    if (summary := done(final)) is not None:
        return {**summary, "cached": True}
    root = _staging(final)
    n_dup = 0
    n_accounts = 0
    actor_files = _read_parts(prepared, "actor", bucket)
    if actor_files:
        events = pl.read_parquet(actor_files)
        dup = _duplicates(events)
        n_dup = int(dup.sum())
        if n_dup:
            validate.quarantine_rows(_as_bad(events.filter(dup), "duplicate_event_id"), f"bucket {bucket}") \
                .write_parquet(root / "quarantine.parquet")
            events = events.filter(~dup)
        n_accounts = int(events["actor_id"].n_unique())
        features.actor_features(events).write_parquet(root / "features.parquet")
        relations.direct_edges(events).write_parquet(root / "edges.parquet")
        for key, name in (("device_id", "device"), ("ip", "ip"), ("text_hash", "text")):
            relations.key_usage(events, key).rename({key: "key"}).write_parquet(root / f"{name}.parquet")
        del events
    target_files = _read_parts(prepared, "target", bucket)
    slim = pl.read_parquet(target_files) if target_files else pl.DataFrame(
        schema={"target": pl.String, "ts": pl.Datetime("us", "UTC"), "actor_id": pl.String, "event_id": pl.String})
    slim = slim.filter(~_duplicates(slim)).drop("event_id")  # the copies the actor side quarantined
    pairs = relations.coaction_pairs(slim, window_s, max_actors, max_neighbors)
    counts, answers = relations.responses(slim, window_s)
    counts.write_parquet(root / "response.parquet")
    answers.write_parquet(root / "answers.parquet")
    # Split by hash of src so one reduce task per part sums a pair's counts over all buckets.
    (root / "coaction").mkdir()
    parts = pairs.with_columns(_bucket(pl.col("src"), n_parts).alias("_p"))
    for (k,), part in parts.partition_by("_p", as_dict=True).items():
        part.drop("_p").write_parquet(root / "coaction" / f"p={k}.parquet")
    summary = {"bucket": bucket, "accounts": n_accounts, "duplicates": n_dup, "coaction_pairs": pairs.height}
    return {**_finish(root, final, summary), "cached": False}


def coaction_reduce(buckets: list[str], part: int, out: str, min_count: int) -> dict[str, Any]:
    """Sum one part of the co-action pair counts over all buckets and keep repeated pairs.

    A target lives in one bucket, so a pair's episodes in different buckets are disjoint and
    its total is the sum; every row of a pair is in the same part (hash of ``src``), so memory
    per task is about 1/parts of all pairs, however skewed the targets.

    Args:
        buckets: The build's bucket directories.
        part: Which part.
        out: Output Parquet file.
        min_count: Pairs with fewer episodes are dropped (a single coincidence is organic).
    """
    files = [p for d in buckets if (p := Path(d) / "coaction" / f"p={part}.parquet").is_file()]
    if not files:
        return {"part": part, "pairs": 0}
    reduced = (
        pl.scan_parquet(files)
        .group_by("src", "dst")
        .agg(pl.col("count").sum(), pl.col("first_ts").min(), pl.col("last_ts").max())
        .filter(pl.col("count") >= min_count)
        .collect()
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    reduced.write_parquet(out)
    return {"part": part, "pairs": reduced.height}
