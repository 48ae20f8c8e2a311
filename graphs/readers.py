"""Find and read event log files: Parquet, CSV and JSON Lines, gzipped or not.

Paths may be local files, directories (searched recursively), glob patterns, or object-store
URIs that Polars supports (``s3://``, ``gs://``, ``az://``), which are passed through as-is.

One malformed line (a CSV row with more fields than the header, a JSON line cut short, bytes
that are not UTF-8) does not fail its file: the file is read again line by line, and the lines
that are not rows come back separately, for quarantine as ``malformed_row``. In that second
reading every CSV record must sit on one line (a quoted field with a line break is malformed).
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
from pathlib import Path

import polars as pl

from ringwatch.errors import InputError

_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json.gz")


def _is_remote(path: str) -> bool:
    return "://" in path


def _is_event_file(name: str) -> bool:
    return name.endswith(_SUFFIXES)


def discover(paths: list[str]) -> list[str]:
    """Expand ``paths`` into a sorted list of event files.

    Raises:
        InputError: When a path does not exist or no event file is found.
    """
    found: list[str] = []
    for raw in paths:
        if _is_remote(raw):
            found.append(raw)
            continue
        p = Path(raw)
        if p.is_dir():
            found.extend(str(f) for f in sorted(p.rglob("*")) if f.is_file() and _is_event_file(f.name))
        elif p.is_file():
            found.append(str(p))
        elif any(ch in raw for ch in "*?["):
            found.extend(sorted(f for f in glob.glob(raw, recursive=True) if _is_event_file(f)))
        else:
            raise InputError(f"event path {raw} does not exist")
    if not found:
        raise InputError(
            f"no event files under {', '.join(paths)}; expected files ending in {', '.join(_SUFFIXES)}"
        )
    return sorted(dict.fromkeys(found))


MALFORMED_SCHEMA = {"line": pl.Int64, "text": pl.String}
"""The lines of a file that are not rows of its format: 1-based line number and the line."""


def read_file(path: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read one event file as strings-or-native columns, without casting.

    Returns:
        The rows, and the lines that are not rows (:data:`MALFORMED_SCHEMA`; empty unless the
        file's fast reading failed on a line).

    Raises:
        InputError: When the file cannot be read in its format at all.
    """
    name = path.lower()
    no_lines = pl.DataFrame(schema=MALFORMED_SCHEMA)
    try:
        if name.endswith(".parquet"):
            return pl.read_parquet(path), no_lines
        if name.endswith((".csv", ".csv.gz")):
            try:
                return pl.read_csv(path, infer_schema=False), no_lines
            except pl.exceptions.ComputeError:
                if _is_remote(path):
                    raise
                return _csv_by_line(path)
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json.gz")):
            try:
                return pl.read_ndjson(path, infer_schema_length=None), no_lines
            except pl.exceptions.ComputeError:
                if _is_remote(path):
                    raise
                return _ndjson_by_line(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InputError(f"cannot read event file {path}: {exc}") from exc
    raise InputError(f"unsupported event file {path}; expected one of {', '.join(_SUFFIXES)}")


def _lines(path: str) -> list[bytes]:
    with (gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")) as fh:
        return fh.read().splitlines()


def _malformed(bad: list[tuple[int, str]]) -> pl.DataFrame:
    return pl.DataFrame({"line": [i for i, _ in bad], "text": [t for _, t in bad]}, schema=MALFORMED_SCHEMA)


def _csv_by_line(path: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A CSV file whose fast reading failed: its rows with the header's field count, and the rest."""
    header: list[str] | None = None
    rows: list[list[str | None]] = []
    bad: list[tuple[int, str]] = []
    for i, raw in enumerate(_lines(path), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append((i, raw.decode("utf-8", "replace")))
            continue
        if not text.strip():
            continue
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error:
            bad.append((i, text))
            continue
        if header is None:
            header = fields
        elif len(fields) > len(header):
            bad.append((i, text))
        else:  # a short row reads as the fast reader reads it: the missing fields are null
            rows.append([f if f != "" else None for f in fields] + [None] * (len(header) - len(fields)))
    if header is None:
        raise InputError(f"event file {path} has no readable header line")
    frame = pl.DataFrame(rows, schema={c: pl.String for c in header}, orient="row")
    return frame, _malformed(bad)


def _ndjson_by_line(path: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A JSON Lines file whose fast reading failed: its lines that are JSON objects, and the rest."""
    good: list[bytes] = []
    bad: list[tuple[int, str]] = []
    for i, raw in enumerate(_lines(path), 1):
        if not raw.strip():
            continue
        try:
            ok = isinstance(json.loads(raw), dict)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
            ok = False
        if ok:
            good.append(raw)
        else:
            bad.append((i, raw.decode("utf-8", "replace")))
    if not good:
        raise InputError(f"event file {path} has no JSON object line; line {bad[0][0]}: {bad[0][1][:200]!r}" if bad
                         else f"event file {path} is empty")
    return pl.read_ndjson(io.BytesIO(b"\n".join(good)), infer_schema_length=None), _malformed(bad)
