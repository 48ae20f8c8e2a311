"""Find and read event log files: Parquet, CSV and JSON Lines, gzipped or not.

Paths may be local files, directories (searched recursively), glob patterns, or object-store
URIs that Polars supports (``s3://``, ``gs://``, ``az://``), which are passed through as-is.
"""

from __future__ import annotations

import glob
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


def read_file(path: str) -> pl.DataFrame:
    """Read one event file as strings-or-native columns, without casting.

    Raises:
        InputError: When the file cannot be parsed in its format.
    """
    name = path.lower()
    try:
        if name.endswith(".parquet"):
            return pl.read_parquet(path)
        if name.endswith((".csv", ".csv.gz")):
            return pl.read_csv(path, infer_schema=False)
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json.gz")):
            return pl.read_ndjson(path, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InputError(f"cannot read event file {path}: {exc}") from exc
    raise InputError(f"unsupported event file {path}; expected one of {', '.join(_SUFFIXES)}")
