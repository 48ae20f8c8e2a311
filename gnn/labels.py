"""The label table: who is known abusive (1) or benign (0), from which source, since when.

Labels come from enforcement, investigator verdicts (``ringwatch label``), appeals and logs
that carry them. The latest label of an account wins. A ``cutoff`` keeps only labels known
at that time, so training never sees a label from the evaluation period.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from graphs.validate import parse_ts
from ringwatch.errors import InputError
from ringwatch.types import LABEL_COLUMNS


def read_labels(paths: list[Path], cutoff: dt.datetime | None = None) -> pl.DataFrame:
    """Read and merge label files.

    Args:
        paths: Parquet files or directories of them (hidden files, such as a verdict still being
            written, are skipped; a path that does not exist holds no labels).
        cutoff: Keep labels with ``ts`` at or before this time (every label must have one).

    Returns:
        One row per account: ``account_id, label, source, ts``. ``ts`` may be a datetime, a
        date, epoch seconds or milliseconds, or ISO text, as in event logs.

    Raises:
        InputError: A file is no readable Parquet table, lacks a required column, has labels
            other than 0/1 or a ``ts`` that does not read, or a label has no ``ts`` where a
            ``cutoff`` is given.
    """
    frames = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*.parquet") if not any(part.startswith(".") for part in f.relative_to(p).parts))
        else:
            files = [p] if p.is_file() else []
        frames += [_read_label_file(f) for f in files]
    if not frames:
        return pl.DataFrame(schema={"account_id": pl.String, "label": pl.Int64, "source": pl.String, "ts": pl.Datetime("us", "UTC")})
    labels = pl.concat(frames)
    if cutoff is not None:
        undated = labels.filter(pl.col("ts").is_null())
        if undated.height:  # a label of unknown time may come from after the cut-off: neither keep nor drop it silently
            raise InputError(f"{undated.height} label(s) have no ts (sources: {', '.join(sorted(set(undated['source'].to_list())))}), "
                             f"so a cut-off at {cutoff.isoformat()} cannot tell whether they were known then; give every "
                             "label a ts, or train without the cut-off")
        labels = labels.filter(pl.col("ts") <= cutoff)
    return labels.sort("ts", nulls_last=False).group_by("account_id", maintain_order=True).last().sort("account_id")


def _read_label_file(f: Path) -> pl.DataFrame:
    try:
        df = pl.read_parquet(f)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"label file {f} is no readable Parquet table ({type(exc).__name__}: {exc}); "
                         f"expected columns {', '.join(LABEL_COLUMNS)}") from None
    missing = [c for c in ("account_id", "label") if c not in df.columns]
    if missing:
        raise InputError(f"label file {f} lacks column(s) {missing}; expected {', '.join(LABEL_COLUMNS)}")
    try:
        raw, df = df, df.select(
            pl.col("account_id").cast(pl.String),
            pl.col("label").cast(pl.Float64, strict=False),  # 0.9 must not truncate to a benign 0
            (pl.col("source").cast(pl.String) if "source" in df.columns else pl.lit(f.stem)).alias("source"),
            (parse_ts(df, "auto") if "ts" in df.columns else pl.lit(None, pl.Datetime("us", "UTC"))).alias("ts"),
        )
    except pl.exceptions.PolarsError:  # a nested column casts to none of these
        raise InputError(f"label file {f}: account_id must be text, label 0/1 and ts a time; got {df.schema}") from None
    bad = df.filter(~pl.col("label").is_in([0.0, 1.0]) | pl.col("label").is_null())
    if bad.height:
        raise InputError(f"label file {f} has {bad.height} label(s) that are not 0 or 1")
    if "ts" in raw.columns:
        unread = int((df["ts"].is_null() & raw["ts"].is_not_null()).sum())
        if unread:
            raise InputError(f"label file {f} has {unread} ts value(s) that do not read as a time (a datetime, epoch "
                             "seconds or milliseconds, or ISO text)")
    return df.with_columns(pl.col("label").cast(pl.Int64))
