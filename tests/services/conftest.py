"""Tiny snapshots and score sets for the Neo4j tests (the server fixtures are in tests/conftest.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ringwatch.versions import Home
from tests.conftest import free_port  # noqa: F401  (re-exported for the Neo4j tests)


def _ts(day: int) -> datetime:
    return datetime(2025, 1, day, 12, 0, tzinfo=timezone.utc)


def _edges(rows: list[tuple[str, str, int]]) -> pa.Table:
    return pa.table({
        "src": pa.array([r[0] for r in rows], pa.string()),
        "dst": pa.array([r[1] for r in rows], pa.string()),
        "count": pa.array([r[2] for r in rows], pa.int64()),
        "first_ts": pa.array([_ts(1)] * len(rows), pa.timestamp("us", "UTC")),
        "last_ts": pa.array([_ts(2)] * len(rows), pa.timestamp("us", "UTC")),
    })


def publish_snapshot(
    home: Path,
    accounts: list[str],
    relations: dict[str, list[tuple[str, str, int]]],
    devices: list[tuple[str, str, int]],
    ips: list[tuple[str, str, int]] | None = None,
    features: dict[str, list[float]] | None = None,
) -> str:
    """Publish a tiny snapshot in the contract layout (``features``: more numeric account columns); return its version."""
    manifest: dict[str, Any] = {"kind": "test"}
    with Home(home).snapshots.publish(manifest) as staging:
        pq.write_table(pa.table({
            "account_id": pa.array(accounts, pa.string()),
            "first_ts": pa.array([_ts(1)] * len(accounts), pa.timestamp("us", "UTC")),
            "last_ts": pa.array([_ts(3)] * len(accounts), pa.timestamp("us", "UTC")),
            "out_degree": pa.array([float(i) for i in range(len(accounts))], pa.float64()),
            **{name: pa.array(values, pa.float64()) for name, values in (features or {}).items()},
        }), staging / "accounts.parquet")
        (staging / "relations").mkdir()
        for name, rows in relations.items():
            pq.write_table(_edges(rows), staging / "relations" / f"{name}.parquet")
        link = _edges(devices).rename_columns(["account_id", "device_id", "count", "first_ts", "last_ts"])
        pq.write_table(link, staging / "account_device.parquet")
        if ips is not None:
            pq.write_table(_edges(ips).rename_columns(["account_id", "ip", "count", "first_ts", "last_ts"]),
                           staging / "account_ip.parquet")
    return str(manifest["version"])


def publish_scores(
    home: Path, snapshot_version: str, scores: dict[str, tuple[float, str, str | None]], *, with_rings_table: bool = True,
    related: dict[str, list[tuple[str, int]]] | None = None,
) -> str:
    """Publish scores ``{account: (risk, level, ring_id)}`` and rings ``related`` ``{ring: [(ring, links)]}``; return the version."""
    ids = sorted(scores)
    manifest: dict[str, Any] = {"model_version": "m1", "snapshot_version": snapshot_version}
    with Home(home).scores.publish(manifest) as staging:
        pq.write_table(pa.table({
            "account_id": pa.array(ids, pa.string()),
            "risk": pa.array([scores[a][0] for a in ids], pa.float32()),
            "level": pa.array([scores[a][1] for a in ids], pa.string()),
            "ring_id": pa.array([scores[a][2] for a in ids], pa.string()),
            "reasons": pa.array([json.dumps([f"shares a device with ring {scores[a][2]}"] if scores[a][2] else [])
                                 for a in ids], pa.string()),
        }), staging / "scores.parquet")
        if with_rings_table:
            rings: dict[str, list[str]] = {}
            for a in ids:
                if scores[a][2]:
                    rings.setdefault(scores[a][2], []).append(a)
            pq.write_table(pa.table({
                "ring_id": pa.array(sorted(rings), pa.string()),
                "size": pa.array([len(rings[r]) for r in sorted(rings)], pa.int64()),
                "edges": pa.array([3] * len(rings), pa.int64()),
                "density": pa.array([1.0] * len(rings), pa.float64()),
                "synchrony": pa.array([0.75] * len(rings), pa.float64()),
                "mean_risk": pa.array([0.9] * len(rings), pa.float64()),
                "ring_score": pa.array([0.95] * len(rings), pa.float64()),
                "members": pa.array([rings[r] for r in sorted(rings)], pa.list_(pa.string())),
                "related": pa.array([[o for o, _ in (related or {}).get(r, [])] for r in sorted(rings)], pa.list_(pa.string())),
                "related_links": pa.array([[k for _, k in (related or {}).get(r, [])] for r in sorted(rings)], pa.list_(pa.int64())),
            }), staging / "rings.parquet")
    return str(manifest["version"])


@pytest.fixture()
def data_home(tmp_path: Path) -> Path:
    """A separate home for snapshots and scores, so tests do not see each other's versions."""
    return tmp_path / "home"
