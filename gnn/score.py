"""Score every account of a snapshot with a trained model; publish ``scores/vN``.

Scoring is inductive: the model sees only features and edges, so accounts that did not exist
at training time are scored like any other. Output: ``scores.parquet`` (sorted by account id)
with calibrated risk, level, ring id and reasons; ``rings.parquet``; a manifest naming the
model and snapshot versions, with how far the snapshot has drifted from the model's training
snapshot (:mod:`gnn.drift`) and warnings where that is far.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import torch

from gnn.calibration import Calibrator
from gnn.data import FeatureStats, GraphTensors, load_graph, load_relations, read_accounts, with_node_codes
from gnn.device import pick_device
from gnn.drift import DriftReference, drift_report
from gnn.ensemble import HybridEnsemble
from gnn.hybrid import HybridModel
from gnn.model import RingwatchGNN
from gnn.reasons import QuotedValues, attributions, reasons_column, reasons_for, top_neighbors
from gnn.rings import RingEdges, find_rings
from gnn.spectral import MIN_MAIN_SHARE
from gnn.train import gnn_logits, load_drift, load_hybrid, load_model
from ringwatch.types import RISK_LEVELS, SCORES_TABLE
from ringwatch.versions import Home

RINGS_TABLE = "rings.parquet"
EXPLANATIONS_TABLE = "explanations.parquet"
EXPLAIN_FLOOR = "MEDIUM"
"""Scoring stores reasons and top neighbours for the accounts at this level or above."""


class _Clock:
    """Seconds per scoring stage, recorded in the manifest."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(now - self._t, 3)
        self._t = now


@dataclass(frozen=True)
class Scorer:
    """A model version loaded next to the snapshot it scores.

    Attributes:
        model: The GNN (alone, or the one inside the hybrid).
        stats: Feature statistics the model was trained with.
        calibrator: Raw score → calibrated risk and levels.
        hybrid: The hybrid scorer (one hybrid or a cross-fitted ensemble), or ``None`` for a GNN-alone model.
        graph: The snapshot's graph tensors.
        relations: The snapshot's relation tables with node codes.
        drift: The training snapshot's distributions (``None`` for a model trained before they were kept).
    """

    model: RingwatchGNN
    stats: FeatureStats
    calibrator: Calibrator
    hybrid: HybridModel | HybridEnsemble | None
    graph: GraphTensors
    relations: dict[str, pl.DataFrame]
    drift: DriftReference | None = None

    @classmethod
    def load(cls, home: Home, model_version: str, snapshot: str) -> Scorer:
        """Read model version ``model_version`` and snapshot ``snapshot`` (both already verified)."""
        model_dir = home.models.path(model_version)
        model, stats, calibrator = load_model(model_dir)
        hybrid = load_hybrid(model_dir, model)
        snap_path = home.snapshots.path(snapshot)
        accounts = read_accounts(snap_path)
        relations = with_node_codes(load_relations(snap_path, ids=False), accounts["account_id"])
        graph, _ = load_graph(snap_path, stats, tables=relations, accounts=accounts)
        return cls(model, stats, calibrator, hybrid, graph, relations, load_drift(model_dir))

    def raw(self, device: torch.device) -> tuple[np.ndarray, Any]:
        """Raw score of every account, and the hybrid's tree input (one matrix, or one per member of
        an ensemble; ``None`` for the GNN alone)."""
        if self.hybrid is None:
            return gnn_logits(self.model, self.graph, device), None
        return self.hybrid.raw(self.graph, device)

    def attribute(self, nodes: np.ndarray, X: Any, top_k: int = 3) -> tuple[list[list[str]], np.ndarray]:
        """Reasons for ``nodes`` and the attribution behind them (TreeSHAP for the hybrid, whose
        tree input ``X`` from :meth:`raw` is given; gradient × input for the GNN alone), ``[len(nodes), columns]``."""
        attr = attributions(self.model, self.graph, nodes) if self.hybrid is None else self.hybrid.contributions(X, nodes)
        return reasons_for(self.graph, self.columns, nodes, attr, top_k, values=self.values(X)), attr

    def values(self, X: Any) -> QuotedValues | None:
        """The column values of the tree input ``X`` from :meth:`raw` as reasons quote them (``None`` for the GNN alone)."""
        return None if self.hybrid is None or X is None else QuotedValues(X, self.columns, self.stats, self.graph.absent)

    @property
    def columns(self) -> list[str]:
        """Names of the attribution columns."""
        return self.stats.names if self.hybrid is None else self.hybrid.names


def score(home: Home, model_version: str | None = None, snapshot: str | None = None, device: str = "auto",
          explain_floor: str = EXPLAIN_FLOOR) -> dict[str, Any]:
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
    # a build's or train's prune leaves the versions alone until the score set naming them is published
    with home.models.reading(model_version) as model_version, home.snapshots.reading(snapshot) as snapshot:
        return _score(home, model_version, snapshot, device, explain_floor)


def _score(home: Home, model_version: str, snapshot: str, device: str, explain_floor: str) -> dict[str, Any]:
    """:func:`score` of named versions the caller holds against prune."""
    clock = _Clock()
    model_manifest = home.models.verify(model_version)
    snap_manifest = home.snapshots.verify(snapshot)
    scorer = Scorer.load(home, model_version, snapshot)
    calibrator, hybrid, graph, relations = scorer.calibrator, scorer.hybrid, scorer.graph, scorer.relations
    clock("load")
    dev = pick_device(device)
    raw, X = scorer.raw(dev)
    clock("model")
    risk = calibrator(raw)
    levels = calibrator.levels(risk)
    floor = calibrator.thresholds[explain_floor]
    explain_nodes = np.flatnonzero(risk >= floor)
    reasons, _ = scorer.attribute(explain_nodes, X)
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
        "warnings": [],
    }
    absent = graph.absent
    if absent:
        manifest["warnings"].append(
            f"snapshot {snap_manifest['version']} lacks {len(absent)} feature column(s) model {model_manifest['version']} "
            f"was trained with ({', '.join(absent[:5])}{', ...' if len(absent) > 5 else ''}): every account reads 0 "
            "there, as if it had none of it; build the snapshot as the training one was (the same mapping, the "
            "same device, IP and text columns, --accounts-table) or retrain")
    if scorer.drift is not None:
        report = drift_report(scorer.drift, graph.x.numpy(), scorer.stats.names, risk, calibrator.thresholds)
        manifest["warnings"].extend(report.pop("warnings"))
        manifest["drift"] = report
        clock("drift")
    coverage = None if hybrid is None or X is None else hybrid.spectral_coverage(X)
    if coverage is not None:
        manifest["spectral_coverage"] = round(coverage, 4)
        if coverage < MIN_MAIN_SHARE:
            manifest["warnings"].append(
                f"the model's spectral basis places only {coverage:.0%} of the accounts (those with a neighbour it "
                f"embeds; every training graph had at least {MIN_MAIN_SHARE:.0%}): the graph has moved on since "
                f"model {model_manifest['version']} was trained, so its position columns read mostly zeros; retrain "
                f"(`ringwatch train`)")
    with home.scores.publish(manifest) as staging:
        table.write_parquet(staging / SCORES_TABLE)
        rings.write_parquet(staging / RINGS_TABLE)
        explanations.write_parquet(staging / EXPLANATIONS_TABLE)
        clock("write")
        manifest["timings"] = clock.laps
    return manifest
