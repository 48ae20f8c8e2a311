"""Normalise mapped event rows to canonical types and split off bad rows with a reason.

Rules (first failing rule wins, so each bad row carries one reason):

``missing_actor``           no actor id
``bad_account_id``          an actor or target account id the service could not be asked for
                            (:func:`ringwatch.types.is_valid_id`: 1-128 printable characters)
``bad_timestamp``           unparseable, or before 2000-01-01
``future_timestamp``        more than ``future_tolerance_s`` after the build's clock
``missing_event_type``      no event type
``bad_weight``              a weight that is not a number
``absurd_weight``           a weight that is not finite or beyond ±1e12
``self_interaction``        an account following/messaging/reporting itself
``duplicate_event_id``      an ``event_id`` already seen for the same actor (see buckets)
``malformed_row``           a line that is not a row of its file's format (see :mod:`graphs.readers`);
                            the quarantine keeps its text and line number
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ringwatch.types import EVENT_COLUMNS, MAX_ID_CHARS, is_valid_id

REASONS = (
    "missing_actor", "bad_account_id", "bad_timestamp", "future_timestamp", "missing_event_type",
    "bad_weight", "absurd_weight", "self_interaction", "duplicate_event_id", "malformed_row",
)
SELF_MEANINGLESS = ("follow", "unfollow", "message", "report")
_MIN_TS = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
_ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M%#z", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M%#z", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_STRING_COLUMNS = ("actor_id", "event_type", "target_account_id", "target_content_id", "device_id", "ip", "text_hash", "event_id")


_MAX_EPOCH_S = 100_000_000_000
"""Seconds past this (the year 5138) are no time; ``auto`` reads larger values as milliseconds."""
_MAX_EPOCH_MS = _MAX_EPOCH_S * 1_000


def _epoch_to_datetime(value: pl.Expr, unit: str) -> pl.Expr:
    """Integer epoch → UTC datetime; ``auto`` treats values above 1e11 as milliseconds. Values
    beyond the year 5138 in their unit are null (unreadable), never wrapped around int64."""
    v = value.cast(pl.Int64, strict=False)

    def within(bound: int) -> pl.Expr:  # compared both ways: abs() of the smallest int64 wraps
        return v.is_between(-bound, bound)

    if unit == "s":
        micros = pl.when(within(_MAX_EPOCH_S)).then(v * 1_000_000)
    elif unit == "ms":
        micros = pl.when(within(_MAX_EPOCH_MS)).then(v * 1_000)
    else:
        micros = pl.when(within(_MAX_EPOCH_S)).then(v * 1_000_000).when(within(_MAX_EPOCH_MS)).then(v * 1_000)
    return micros.cast(pl.Datetime("us", "UTC"))


def parse_ts(frame: pl.DataFrame, unit: str) -> pl.Expr:
    """``frame``'s ``ts`` column as UTC datetimes, whatever it holds: datetimes, dates, epoch
    numbers (``unit``: ``s``, ``ms`` or ``auto``) or text in either form; null where unreadable."""
    dtype = frame.schema["ts"]
    col = pl.col("ts")
    if isinstance(dtype, pl.Datetime):  # to microseconds: files in ns (pandas' default) and us must concatenate
        col = col.dt.cast_time_unit("us")
        return col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col.dt.convert_time_zone("UTC")
    if dtype.is_numeric():
        return _epoch_to_datetime(col.cast(pl.Float64, strict=False).round(0), unit)
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    text = col.cast(pl.String).str.strip_chars()
    parsed = [_epoch_to_datetime(text.cast(pl.Float64, strict=False).round(0), unit)]
    for fmt in _ISO_FORMATS:
        p = text.str.to_datetime(fmt, time_unit="us", strict=False)
        parsed.append(p.dt.convert_time_zone("UTC") if "%#z" in fmt else p.dt.replace_time_zone("UTC"))
    return pl.coalesce(parsed)


def _as_string(frame: pl.DataFrame, name: str) -> pl.Expr:
    dtype = frame.schema[name]
    col = pl.col(name)
    if dtype == pl.Null:
        return pl.lit(None, dtype=pl.String).alias(name)
    if dtype.is_float():  # 12.0 → "12": ids read from loosely typed logs
        col = pl.when(col == col.round(0)).then(col.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(col.cast(pl.String))
    return _stripped(col.cast(pl.String)).alias(name)


def _stripped(text: pl.Expr) -> pl.Expr:
    """Text without surrounding blanks; a blank value is none."""
    s = text.str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def normalise(frame: pl.DataFrame, ts_unit: str = "auto") -> pl.DataFrame:
    """Cast canonical columns to canonical types; keeps originals for quarantine as ``_raw_*``.

    Args:
        frame: Rows with every canonical column present (see :meth:`EventMapping.apply`).
        ts_unit: Unit of integer timestamps: ``s``, ``ms`` or ``auto``.

    Returns:
        The frame with ``ts`` as UTC datetime, ids as strings, ``weight`` as float, and
        ``_raw_ts`` / ``_raw_weight`` strings for reporting bad rows.
    """
    exprs = [_as_string(frame, c) for c in _STRING_COLUMNS]
    # " 4" is 4 and a blank is no weight, as ids and times are stripped
    weight = _stripped(pl.col("weight")) if frame.schema["weight"] == pl.String else pl.col("weight")
    exprs += [
        parse_ts(frame, ts_unit).alias("ts"),
        weight.cast(pl.Float64, strict=False).alias("weight"),
        (pl.col("_raw_ts") if "_raw_ts" in frame.columns else pl.col("ts").cast(pl.String)).alias("_raw_ts"),
        weight.cast(pl.String).alias("_raw_weight"),
    ]
    extra = [c for c in frame.columns if c.startswith("_") and c not in ("_raw_ts", "_raw_weight")]
    out = frame.with_columns(exprs).select([*EVENT_COLUMNS, "_raw_ts", "_raw_weight", *extra])
    return out.with_columns(pl.col("event_type").str.to_lowercase())


def invalid_ids(frame: pl.DataFrame) -> list[str]:
    """The actor and target account ids of normalised rows that are not valid account ids.

    Ids of printable ASCII within the length limit pass in Polars; only the rest (rare: other
    scripts, emoji, control characters) are checked one by one with the service's own rule."""
    plain = f"^[ -~]{{1,{MAX_ID_CHARS}}}$"
    odd = pl.concat([frame["actor_id"], frame["target_account_id"]]).drop_nulls()
    odd = odd.filter(~odd.str.contains(plain)).unique()
    return [i for i in odd.to_list() if not is_valid_id(i)]


def reason_expr(now: dt.datetime, future_tolerance_s: int, bad_ids: list[str] | None = None) -> pl.Expr:
    """The first failing rule for each normalised row, or null for a good row (``bad_ids``: see
    :func:`invalid_ids`)."""
    limit = now + dt.timedelta(seconds=future_tolerance_s)
    w = pl.col("weight")
    return (
        pl.when(pl.col("actor_id").is_null()).then(pl.lit("missing_actor"))
        .when(pl.col("actor_id").is_in(bad_ids or []) | pl.col("target_account_id").is_in(bad_ids or []))
        .then(pl.lit("bad_account_id"))
        .when(pl.col("ts").is_null() | (pl.col("ts") < _MIN_TS)).then(pl.lit("bad_timestamp"))
        .when(pl.col("ts") > limit).then(pl.lit("future_timestamp"))
        .when(pl.col("event_type").is_null()).then(pl.lit("missing_event_type"))
        .when(pl.col("_raw_weight").is_not_null() & w.is_null()).then(pl.lit("bad_weight"))
        .when(w.is_not_null() & (w.is_nan() | w.is_infinite() | (w.abs() > 1e12))).then(pl.lit("absurd_weight"))
        .when(pl.col("event_type").is_in(SELF_MEANINGLESS) & (pl.col("actor_id") == pl.col("target_account_id")))
        .then(pl.lit("self_interaction"))
        .otherwise(None)
    )


def quarantine_rows(bad: pl.DataFrame, source: str) -> pl.DataFrame:
    """Shape bad rows for the quarantine table: every canonical column as text, plus reason,
    source and (null here; see :func:`quarantine_lines`) the malformed line and its number."""
    return bad.select(
        [pl.col(c).cast(pl.String) for c in _STRING_COLUMNS]
        + [pl.coalesce(pl.col("ts").cast(pl.String), pl.col("_raw_ts")).alias("ts"),
           pl.coalesce(pl.col("weight").cast(pl.String), pl.col("_raw_weight")).alias("weight"),
           pl.col("reason"), pl.lit(source).alias("source_file"),
           pl.lit(None, pl.Int64).alias("line"), pl.lit(None, pl.String).alias("raw_line")]
    )


def quarantine_lines(malformed: pl.DataFrame, source: str) -> pl.DataFrame:
    """The quarantine rows of lines that are not rows (``line, text``, from
    :func:`graphs.readers.read_file`): reason ``malformed_row``, the text in ``raw_line``."""
    return malformed.select(
        [pl.lit(None, pl.String).alias(c) for c in (*_STRING_COLUMNS, "ts", "weight")]
        + [pl.lit("malformed_row").alias("reason"), pl.lit(source).alias("source_file"),
           pl.col("line").cast(pl.Int64), pl.col("text").cast(pl.String).alias("raw_line")]
    )


FUTURE_TOLERANCE_S = 86_400
"""How far past the build's clock an event may be dated (clock skew, time zones) before it is ``future_timestamp``."""


def split(frame: pl.DataFrame, now: dt.datetime, future_tolerance_s: int = FUTURE_TOLERANCE_S) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split normalised rows into (good rows, bad rows with a ``reason`` column)."""
    tagged = frame.with_columns(reason_expr(now, future_tolerance_s, invalid_ids(frame)).alias("reason"))
    good = tagged.filter(pl.col("reason").is_null()).drop("reason", "_raw_ts", "_raw_weight")
    bad = tagged.filter(pl.col("reason").is_not_null())
    return good, bad
