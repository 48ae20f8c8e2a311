"""Map arbitrary event logs onto the canonical schema without code.

A mapping renames source columns to canonical ones, sets constant columns, and can turn a
label column of the log into a labels table. It is read from TOML::

    [columns]            # canonical = source
    actor_id = "u"
    target_content_id = "i"
    ts = "ts"

    [constants]          # canonical = value for every row
    event_type = "edit"

    [labels]             # optional: a column of the log that carries labels
    column = "label"
    positive_only = true # an account is positive if any of its rows has label 1
    source = "jodie_ban"

    [sign_map]           # optional: event_type from the sign of a numeric column
    column = "rating"
    positive = "rate_pos"
    negative = "rate_neg"

    [time]               # optional: integer timestamps' unit, and an origin for relative ones
    unit = "s"           # s, ms or auto
    origin = "2014-01-01"  # or epoch seconds
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ringwatch.errors import ConfigError
from ringwatch.types import EVENT_COLUMNS


@dataclass(frozen=True)
class EventMapping:
    """How one log's columns become canonical event columns.

    Args:
        columns: Canonical column name → source column name.
        constants: Canonical column name → constant value for every row.
        label_column: Source column holding 0/1 labels, if the log carries them.
        label_source: ``source`` value for labels taken from the log.
        sign_column: Numeric source column whose sign picks the event type.
        sign_types: Event types for a positive and a non-positive value.
        ts_unit: Unit of integer timestamps: ``s``, ``ms`` or ``auto``.
        ts_origin: Epoch seconds added to numeric timestamps (for logs with relative time; with
            ``ts_unit = "ms"`` the times are milliseconds after it).
    """

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str | int | float] = field(default_factory=dict)
    label_column: str | None = None
    label_source: str = "log"
    sign_column: str | None = None
    sign_types: tuple[str, str] = ("rate_pos", "rate_neg")
    ts_unit: str = "auto"
    ts_origin: int = 0

    def __post_init__(self) -> None:
        unknown = (set(self.columns) | set(self.constants)) - set(EVENT_COLUMNS)
        if unknown:
            raise ConfigError(
                f"mapping names unknown canonical columns {sorted(unknown)}; valid: {', '.join(EVENT_COLUMNS)}"
            )
        if self.ts_unit not in ("s", "ms", "auto"):
            raise ConfigError(f"ts_unit must be s, ms or auto, got {self.ts_unit!r}")

    @classmethod
    def from_toml(cls, path: Path) -> EventMapping:
        """Read a mapping file (see the module docstring for its shape)."""
        try:
            doc = tomllib.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"mapping file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"mapping file {path} is not valid TOML: {exc}") from exc
        columns, constants, labels, sign, time = (_table(doc, path, name) for name in _SECTIONS)
        for where, table, kinds in (("columns", columns, (str,)), ("constants", constants, (str, int, float, bool)),
                                    ("labels", labels, (str, bool)), ("sign_map", sign, (str,)), ("time", time, (str, int, float, dt.date))):
            odd = {k: v for k, v in table.items() if not isinstance(v, kinds)}
            if odd:
                raise ConfigError(f"mapping file {path}: [{where}] {', '.join(f'{k} = {v!r}' for k, v in odd.items())}: "
                                  f"expected {' or '.join(k.__name__ for k in kinds)} values")
        return cls(
            columns=columns,
            constants=constants,
            label_column=labels.get("column"),
            label_source=str(labels.get("source", "log")),
            sign_column=sign.get("column"),
            sign_types=(sign.get("positive", "rate_pos"), sign.get("negative", "rate_neg")),
            ts_unit=str(time.get("unit", "auto")),
            ts_origin=_origin(time.get("origin", 0), path),
        )

    @property
    def is_identity(self) -> bool:
        return not (self.columns or self.constants or self.sign_column or self.ts_origin)

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Return ``frame`` with canonical columns (others dropped, missing ones null).

        Raises:
            ConfigError: When a mapped source column is missing from the log.
        """
        missing = [src for src in self.columns.values() if src not in frame.columns]
        if self.sign_column and self.sign_column not in frame.columns:
            missing.append(self.sign_column)
        if self.label_column and self.label_column not in frame.columns:
            missing.append(self.label_column)
        if missing:
            raise ConfigError(f"log has no column(s) {missing}; it has: {', '.join(frame.columns)}")
        exprs: list[pl.Expr] = []
        for name in EVENT_COLUMNS:
            if name in self.constants:
                exprs.append(pl.lit(self.constants[name]).alias(name))
            elif name in self.columns:
                exprs.append(pl.col(self.columns[name]).alias(name))
            elif name == "event_type" and self.sign_column:
                pos, neg = self.sign_types
                value = pl.col(self.sign_column).cast(pl.Float64, strict=False)  # none: no event type (quarantined)
                exprs.append(pl.when(value > 0).then(pl.lit(pos)).when(value <= 0).then(pl.lit(neg)).alias(name))
            elif name == "weight" and self.sign_column:
                exprs.append(pl.col(self.sign_column).alias(name))
            elif name in frame.columns:
                exprs.append(pl.col(name))
            else:
                exprs.append(pl.lit(None).alias(name))
        if self.label_column:
            exprs.append(pl.col(self.label_column).alias("_label"))
        out = frame.select(exprs)
        if self.ts_origin:  # relative times, whole or not, in the mapping's unit; the source value kept for quarantine
            origin = self.ts_origin * (1000 if self.ts_unit == "ms" else 1)
            out = out.with_columns(pl.col("ts").cast(pl.String).alias("_raw_ts"),
                                   pl.col("ts").cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False) + origin)
        return out


_SECTIONS = ("columns", "constants", "labels", "sign_map", "time")


def _table(doc: dict[str, Any], path: Path, name: str) -> dict[str, Any]:
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"mapping file {path}: {name} must be a [{name}] table, got {table!r}")
    return dict(table)


def _origin(value: str | float | dt.date, path: Path) -> int:
    """``[time] origin``: epoch seconds, or a date or time, quoted ISO or TOML's own (UTC unless it says otherwise)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime.combine(value, dt.time())
    else:
        try:
            when = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"mapping file {path}: [time] origin = {value!r}: expected epoch seconds or an ISO date "
                              "such as 2014-01-01") from None
    return int((when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp())
