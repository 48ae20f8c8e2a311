"""Investigator verdicts flowing back into the label table."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Any

import polars as pl

from ringwatch.errors import ConfigError
from ringwatch.versions import Home

MAX_ID_LENGTH = 128


def record_verdict(home: Home, account_id: str, label: int, source: str, note: str = "") -> dict[str, Any]:
    """Append one verdict to ``HOME/labels`` as its own Parquet file (append-only, never rewritten).

    Args:
        home: Storage layout.
        account_id: The account.
        label: 1 abusive, 0 benign.
        source: Who decided (e.g. ``investigator``).
        note: Free text kept with the verdict.

    Returns:
        The row written.
    """
    if not account_id or len(account_id) > MAX_ID_LENGTH or not account_id.isprintable():
        raise ConfigError(f"account id must be 1–{MAX_ID_LENGTH} printable characters, got {account_id!r}")
    if label not in (0, 1):
        raise ConfigError(f"label must be 0 or 1, got {label}")
    now = dt.datetime.now(dt.timezone.utc)
    row = {"account_id": account_id, "label": label, "source": source, "ts": now, "note": note}
    home.labels.mkdir(parents=True, exist_ok=True)
    name = f"verdict-{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}.parquet"
    tmp = home.labels / f".{name}.tmp"  # hidden until whole: a crash or a full disk leaves no half a file to train on
    pl.DataFrame([row]).write_parquet(tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, home.labels / name)
    return row
