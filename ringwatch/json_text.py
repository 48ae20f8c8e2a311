"""Strict JSON text: what every ``--json`` output and JSON result file is written with."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ringwatch.versions import write_atomic


def json_safe(obj: Any) -> Any:
    """``obj`` with every float that JSON cannot hold (NaN, ±inf) as ``None``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def dumps_strict(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`json_safe` ``(obj)``: valid JSON (NaN and infinities are ``null``;
    what JSON has no type for is written as its text)."""
    return json.dumps(json_safe(obj), default=str, allow_nan=False, **kwargs)


def write_json(path: Path, obj: Any) -> None:
    """Write :func:`dumps_strict` ``(obj)`` (indented) to ``path`` whole, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, dumps_strict(obj, indent=2))
