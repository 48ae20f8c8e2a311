"""Find and read event log files: Parquet, CSV and JSON Lines, gzipped or not.

Paths may be local files, directories (searched recursively), glob patterns, or object-store
URIs that Polars supports (``s3://``, ``gs://``, ``az://``), which are passed through as-is.

One malformed line (a CSV row with more fields than the header, a JSON line cut short, bytes
that are not UTF-8) does not fail its file: the file is read again line by line, and the lines
that are not rows come back separately, for quarantine as ``malformed_row``. A file that cannot
be read at all (a gzip cut short, a remote file) still fails whole.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import os
import re
import zlib
from pathlib import Path
from typing import Any

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
    unique: dict[str, str] = {}  # one file named twice (a folder and a glob, ./a and a) is read once
    for f in found:
        unique.setdefault(f if _is_remote(f) else str(Path(f).resolve()), f)
    return sorted(unique.values())


MALFORMED_SCHEMA = {"line": pl.Int64, "text": pl.String}
"""The lines of a file that are not rows of its format: 1-based line number and the line."""


def read_file(path: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read one event file as strings-or-native columns, without casting.

    Returns:
        The rows (no columns at all for an empty file), and the lines that are not rows
        (:data:`MALFORMED_SCHEMA`; empty unless the file's fast reading failed on a line).

    Raises:
        InputError: When the file cannot be read in its format at all.
    """
    name = path.lower()
    if name.endswith(".parquet"):
        fast, by_line = pl.read_parquet, None
    elif name.endswith((".csv", ".csv.gz")):
        fast, by_line = (lambda p: pl.read_csv(p, infer_schema=False)), _csv_by_line
    elif name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json.gz")):
        fast, by_line = (lambda p: pl.read_ndjson(p, infer_schema_length=None)), _ndjson_by_line
    else:
        raise InputError(f"unsupported event file {path}; expected one of {', '.join(_SUFFIXES)}")
    try:
        if not _is_remote(path) and os.path.getsize(path) == 0:  # an hour with no events: no rows, not a failed build
            return pl.DataFrame(), pl.DataFrame(schema=MALFORMED_SCHEMA)
        try:
            return fast(path), pl.DataFrame(schema=MALFORMED_SCHEMA)
        except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):  # a line the fast reader cannot take: read again, line by line
            if by_line is None or _is_remote(path):
                raise
            return by_line(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InputError(f"cannot read event file {path}: {exc}") from exc


def _open(path: str, text: bool) -> Any:
    """The file, gunzipped where named ``.gz``; text is UTF-8 without a byte-order mark, and a
    byte that is not UTF-8 survives as a surrogate (see :func:`_undecodable`)."""
    mode = "rt" if text else "rb"
    kw = {"encoding": "utf-8-sig", "errors": "surrogateescape", "newline": ""} if text else {}
    return gzip.open(path, mode, **kw) if path.lower().endswith(".gz") else open(path, mode, **kw)


_SURROGATE = re.compile("[\udc80-\udcff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _undecodable(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def _shown(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text).rstrip("\r\n")


def _malformed(bad: list[tuple[int, str]]) -> pl.DataFrame:
    return pl.DataFrame({"line": [i for i, _ in bad], "text": [t for _, t in bad]}, schema=MALFORMED_SCHEMA)


class _Tap:
    """Hands a file's lines to :mod:`csv` and keeps those of the record being read."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.taken: list[str] = []
        self.line = 0

    def __iter__(self) -> _Tap:
        return self

    def __next__(self) -> str:
        line = next(self._fh)
        self.taken.append(line)
        self.line += 1
        return line


def _csv_by_line(path: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A CSV file whose fast reading failed: its records with at most the header's field count,
    and the rest (more fields, bytes that are not UTF-8, a quote that never closes)."""
    header: list[str] | None = None
    rows: list[list[str | None]] = []
    bad: list[tuple[int, str]] = []
    try:
        with _open(path, text=True) as fh:
            tap = _Tap(fh)
            reader = csv.reader(tap, strict=True)
            while True:
                tap.taken.clear()
                try:
                    fields = next(reader)
                    failed = False
                except StopIteration:
                    break
                except csv.Error:
                    failed = True
                raw = "".join(tap.taken)
                first = tap.line - len(tap.taken) + 1
                if failed or _undecodable(raw):
                    bad.append((first, _shown(raw)))
                elif not fields or (len(fields) == 1 and not fields[0].strip()):  # a blank line; ",," is a row
                    continue
                elif header is None:
                    header = fields
                elif len(fields) > len(header):
                    bad.append((first, _shown(raw)))
                else:  # a short row reads as the fast reader reads it: the missing fields are null
                    rows.append([f if f != "" else None for f in fields] + [None] * (len(header) - len(fields)))
    except (EOFError, zlib.error, OSError) as exc:  # a gzip cut short or corrupt: the file, not a line
        raise InputError(f"cannot read event file {path}: {exc}") from exc
    if header is None:
        raise InputError(f"event file {path} has no readable header line")
    return pl.DataFrame(rows, schema={c: pl.String for c in header}, orient="row"), _malformed(bad)


def _ndjson_by_line(path: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A JSON Lines file whose fast reading failed: its lines that are JSON objects, and the rest."""
    good: list[bytes] = []
    bad: list[tuple[int, str]] = []
    try:
        with _open(path, text=False) as fh:
            for i, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    ok = isinstance(json.loads(raw), dict)
                except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
                    ok = False
                if ok:
                    good.append(raw.rstrip(b"\r\n"))
                else:
                    bad.append((i, _shown(raw.decode("utf-8", "surrogateescape"))))
    except (EOFError, zlib.error, OSError) as exc:
        raise InputError(f"cannot read event file {path}: {exc}") from exc
    if not good:
        raise InputError(f"event file {path} has no JSON object line; line {bad[0][0]}: {bad[0][1][:200]!r}" if bad
                         else f"event file {path} is empty")
    try:
        return pl.read_ndjson(io.BytesIO(b"\n".join(good)), infer_schema_length=None), _malformed(bad)
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):  # a field typed one way here and another there
        return _as_text_rows([json.loads(line) for line in good]), _malformed(bad)


def _as_text_rows(objects: list[dict[str, Any]]) -> pl.DataFrame:
    """JSON objects whose fields disagree on their type, every value as text (``12`` and ``12.0``
    as ``"12"``, ``true`` as ``"true"``, an object or array as its JSON), for the casts to judge."""
    columns = list(dict.fromkeys(k for o in objects for k in o))
    return pl.DataFrame([[_text(o.get(c)) for c in columns] for o in objects], schema={c: pl.String for c in columns},
                        orient="row")


def _text(value: Any) -> str | None:
    if value is None:
        return value
    if isinstance(value, str):  # a lone surrogate escape (\ud800) is no text: shown as U+FFFD, as the fast reader does
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)
