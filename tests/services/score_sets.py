"""Publish small score sets into a VersionedDir the way the scoring stage does (test helper)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ringwatch.types import RISK_LEVELS
from ringwatch.versions import VersionedDir


def level_of(risk: float) -> str:
    """The level bands the tests use."""
    return RISK_LEVELS[min(int(risk * 4), 3)]


def publish_scores(
    scores: VersionedDir,
    ids: Sequence[str],
    risks: Sequence[float],
    *,
    ring_ids: Sequence[str | None] | None = None,
    rings: list[dict] | None = None,
    explanations: list[dict] | None = None,
    model_version: str = "m1",
    snapshot_version: str = "s1",
    levels: Sequence[str] | None = None,
    warnings: Sequence[str] | None = None,
) -> str:
    """Write scores.parquet (sorted), optional rings/explanations, publish; return the version.
    ``warnings`` go into the manifest as scoring writes them (none: a manifest without the key)."""
    order = np.argsort(np.asarray(ids, dtype=object).astype(str), kind="stable")
    ids = [ids[i] for i in order]
    risks = [float(risks[i]) for i in order]
    levels = [levels[i] for i in order] if levels is not None else [level_of(r) for r in risks]
    ring_ids = [ring_ids[i] for i in order] if ring_ids is not None else [None] * len(ids)
    table = pa.table(
        {
            "account_id": pa.array(ids, pa.string()),
            "risk": pa.array(risks, pa.float32()),
            "level": pa.array(levels, pa.string()),
            "ring_id": pa.array(ring_ids, pa.string()),
            "reasons": pa.array([json.dumps([f"reason of {a}"]) for a in ids], pa.string()),
        }
    )
    manifest = {"model_version": model_version, "snapshot_version": snapshot_version, "scored_at": "2025-01-02T03:04:05Z"}
    if warnings is not None:
        manifest["warnings"] = warnings if isinstance(warnings, str) else list(warnings)  # a str: a hand-edited manifest
    with scores.publish(manifest) as staging:
        pq.write_table(table, Path(staging) / "scores.parquet")
        if rings is not None:
            pq.write_table(pa.Table.from_pylist(rings), Path(staging) / "rings.parquet")
        if explanations is not None:
            pq.write_table(pa.Table.from_pylist(explanations), Path(staging) / "explanations.parquet")
    return manifest["version"]


def corrupt(scores: VersionedDir, version: str) -> None:
    """Flip bytes in a published scores.parquet so its checksum no longer matches."""
    path = scores.root / version / "scores.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
