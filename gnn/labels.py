"""The label table: who is known abusive (1) or benign (0), from which source, since when.

Labels come from enforcement, investigator verdicts (``ringwatch label``), appeals and logs
that carry them. The latest label of an account wins. A ``cutoff`` keeps only labels known
at that time, so training never sees a label from the evaluation period.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from ringwatch.errors import InputError
from ringwatch.types import LABEL_COLUMNS


def read_labels(paths: list[Path], cutoff: dt.datetime | None = None) -> pl.DataFrame:
    """Read and merge label files.

    Args:
        paths: Parquet files or directories of them.
        cutoff: Keep labels with ``ts`` at or before this time (every label must have one).

    Returns:
        One row per account: ``account_id, label, source, ts``.

    Raises:
        InputError: A file lacks a required column or has labels other than 0/1, or a label
            has no ``ts`` where a ``cutoff`` is given.
    """
    frames = []
    for p in paths:
        p = Path(p)
        files = sorted(p.rglob("*.parquet")) if p.is_dir() else ([p] if p.is_file() else [])
        for f in files:
            df = pl.read_parquet(f)
            missing = [c for c in ("account_id", "label") if c not in df.columns]
            if missing:
                raise InputError(f"label file {f} lacks column(s) {missing}; expected {', '.join(LABEL_COLUMNS)}")
            df = df.select(
                pl.col("account_id").cast(pl.String),
                pl.col("label").cast(pl.Int64, strict=False),
                (pl.col("source").cast(pl.String) if "source" in df.columns else pl.lit(f.stem)).alias("source"),
                (pl.col("ts").cast(pl.Datetime("us", "UTC")) if "ts" in df.columns else pl.lit(None, pl.Datetime("us", "UTC"))).alias("ts"),
            )
            bad = df.filter(~pl.col("label").is_in([0, 1]) | pl.col("label").is_null())
            if bad.height:
                raise InputError(f"label file {f} has {bad.height} label(s) that are not 0 or 1")
            frames.append(df)
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
