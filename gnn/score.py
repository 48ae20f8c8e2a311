"""Score every account of a snapshot with a trained model; publish ``scores/vN``.

Scoring is inductive: the model sees only features and edges, so accounts that did not exist
at training time are scored like any other. Output: ``scores.parquet`` (sorted by account id)
with calibrated risk, level, ring id and reasons; ``rings.parquet``; a manifest naming the
model and snapshot versions.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import numpy as np
import polars as pl

from gnn.data import load_graph, load_relations, read_accounts, with_node_codes
from gnn.device import pick_device
from gnn.hybrid import contributions
from gnn.reasons import attributions, reasons_column, reasons_for, top_neighbors
from gnn.rings import RingEdges, find_rings
from gnn.train import gnn_logits, load_hybrid, load_model
from ringwatch.types import RISK_LEVELS, SCORES_TABLE
from ringwatch.versions import Home

RINGS_TABLE = "rings.parquet"
EXPLANATIONS_TABLE = "explanations.parquet"


class _Clock:
    """Seconds per scoring stage, recorded in the manifest."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(now - self._t, 3)
        self._t = now


def score(home: Home, model_version: str | None = None, snapshot: str | None = None, device: str = "auto",
          explain_floor: str = "MEDIUM") -> dict[str, Any]:
    """Score all accounts and publish a score set.

    Args:
        home: Storage layout.
        model_version: Model to use (default: current).
        snapshot: Snapshot to score (default: current).
        device: Torch device setting.
        explain_floor: Accounts at or above this level get attributed reasons.

    Returns:
        The score-set manifest.
    """
    model_manifest = home.models.verify(model_version)
    snap_manifest = home.snapshots.verify(snapshot)
    clock = _Clock()
    model_dir = home.models.path(model_manifest["version"])
    model, stats, calibrator = load_model(model_dir)
    hybrid = load_hybrid(model_dir, model)
    snap_path = home.snapshots.path(snap_manifest["version"])
    accounts = read_accounts(snap_path)
    relations = with_node_codes(load_relations(snap_path, ids=False), accounts["account_id"])
    graph, _ = load_graph(snap_path, stats, tables=relations, accounts=accounts)
    clock("load")
    dev = pick_device(device)
    if hybrid is None:
        raw = gnn_logits(model, graph, dev)
    else:
        raw, X = hybrid.raw(graph, dev)
    clock("model")
    risk = calibrator(raw)
    levels = calibrator.levels(risk)
    floor = calibrator.thresholds[explain_floor]
    explain_nodes = np.flatnonzero(risk >= floor)
    if hybrid is None:
        attr = attributions(model, graph, explain_nodes)
        reasons = reasons_for(graph, stats.names, explain_nodes, attr)
    else:
        contrib = contributions(hybrid, X, explain_nodes)
        reasons = reasons_for(graph, hybrid.names, explain_nodes, contrib, values=X)
    clock("reasons")
    known = None if hybrid is None else hybrid.known_abusive(graph)
    ring_of, rings = find_rings(graph.account_ids, risk, RingEdges.of(graph), risk_floor=floor, known=known)
    clock("rings")
    explanations = top_neighbors(graph.account_ids, risk, relations, explain_nodes).with_columns(
        pl.Series("reasons", [json.dumps(r) for r in reasons], dtype=pl.String)).sort("account_id")
    table = pl.DataFrame({
        "account_id": graph.account_ids,
        "risk": risk,
        "raw_score": raw.astype(np.float32),
        "level": levels.tolist(),
        "ring_id": pl.Series(ring_of.tolist(), dtype=pl.String),
    }).with_columns(reasons_column(graph.num_nodes, explain_nodes, reasons)).sort("account_id")
    clock("tables")
    counts = {lvl: int((levels == lvl).sum()) for lvl in RISK_LEVELS}
    manifest: dict[str, Any] = {
        "kind": "scores", "model_version": model_manifest["version"], "snapshot_version": snap_manifest["version"],
        "scored_at": dt.datetime.now(dt.timezone.utc).isoformat(), "count": table.height, "levels": counts,
        "rings": rings.height, "thresholds": calibrator.thresholds, "device": str(dev),
        "model": "hybrid" if hybrid is not None else "gnn", "explained": int(len(explain_nodes)),
    }
    with home.scores.publish(manifest) as staging:
        table.write_parquet(staging / SCORES_TABLE)
        rings.write_parquet(staging / RINGS_TABLE)
        explanations.write_parquet(staging / EXPLANATIONS_TABLE)
        clock("write")
        manifest["timings"] = clock.laps
    return manifest
