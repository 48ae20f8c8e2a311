"""End-to-end temporal evaluation on an event log: the Wikipedia edit log with editor bans.

Protocol (no look-ahead):

1. The log goes through the real graph build (:func:`graphs.build.build_snapshot`) with the
   mapping ``graphs/mappings/wikipedia.toml``, twice: once with ``until`` = the time cut at 70%
   of the log's span (snapshot *early*: features and edges only from events before the cut),
   once over the whole log (snapshot *full*).
2. Training accounts: users whose first edit is before the cut; label = banned before the cut.
   Each seed splits them 80 / 20 (stratified) into train / validation.
3. Test accounts: users whose first edit is at or after the cut, scored inductively on the
   *full* snapshot by models trained on the *early* one; label = banned at any time.
4. A banned user's history ends at the ban, so features that grow with observation length
   (event counts, active days, distinct pages) could carry the result. The run is repeated
   without them and both are reported.
5. The shipped scorer's calibrator, fitted on the early period's validation users, is applied to
   the later users: its calibration metrics say whether the levels hold across time.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gnn.benchmark import BASELINE_BLOCKS, EVAL_CONFIG, GOALS, MODELS, Progress, _summary, datasets_root, shared_gnn
from gnn.bwgnn import bwgnn_logits, fit_bwgnn
from gnn.calibration import Calibrator
from gnn.coordination import coordination_score
from gnn.data import NODE_ROW, FeatureStats, GraphTensors, feature_names, load_graph, with_node_rows
from gnn.ensemble import fit_hybrid_scorer
from gnn.evaluate import calibration_metrics, calibration_summary, ranking_metrics
from gnn.hybrid import FeatureSet, fit_trees, tree_margin
from gnn.train import TrainConfig, gnn_logits, stratified_split
from graphs.build import RayConfig
from ringwatch.errors import InputError
from ringwatch.types import SNAPSHOT_ACCOUNTS
from ringwatch.versions import Home

ORIGIN = 1_388_534_400
OBSERVATION_LENGTH = ("n_events", "active_days", "n_contents", "n_targets", "n_edit")
"""Features that grow with how long an account was observed."""


def _index(graph: GraphTensors, ids: list[str] | np.ndarray) -> np.ndarray:
    rows = with_node_rows(graph.account_ids, pl.DataFrame({"account_id": list(ids)}))[NODE_ROW].to_numpy()
    if len(rows) != len(ids):
        raise InputError(f"{len(ids) - len(rows)} of the protocol's {len(ids)} users are not accounts of the built graph")
    return rows


def user_table(events: pl.DataFrame) -> pl.DataFrame:
    """One row per editor of a ``u, ts, label`` log: ``u`` (string), first edit, first ban edit (null if never).

    Sorted by ``u``: the seeded splits index this order, and ``group_by`` alone gives another
    order on every run (the splits, and so every number, moved between identical runs).
    """
    return events.group_by("u").agg(pl.col("ts").min().alias("first"),
                                    pl.col("ts").filter(pl.col("label") == 1).min().alias("ban")).with_columns(
        pl.col("u").cast(pl.String)).sort("u")


def run_transfer(ga: GraphTensors, gb: GraphTensors, names: list[str], tr_ids: np.ndarray, y_tr: np.ndarray, va_ids: np.ndarray,
                 y_va: np.ndarray, te_ids: np.ndarray, cfg: TrainConfig,
                 models: tuple[str, ...]) -> tuple[dict[str, np.ndarray], Calibrator | None]:
    """Train on graph ``ga``, score test accounts on graph ``gb`` (inductive); return test scores and
    the shipped scorer's calibrator (fitted on the early period's labels; ``None`` without it)."""
    fa = FeatureSet.of(ga, names, cfg.nbr_max)
    fb = fa.on(gb)  # the same columns as the early snapshot
    tr_a, va_a, tr_b, te_b = _index(ga, tr_ids), _index(ga, va_ids), _index(gb, tr_ids), _index(gb, te_ids)
    out: dict[str, np.ndarray] = {}
    calibrator = None
    if "coordination" in models:
        out["coordination"] = coordination_score(gb)[te_b]
    for model, blk in BASELINE_BLOCKS.items():
        if model in models:
            Xa, cols = fa.matrix(blk, tr_a, y_tr)
            booster = fit_trees(Xa, tr_a, y_tr, va_a, y_va, cfg, cols)
            Xb, _ = fb.matrix(blk, tr_b, y_tr)
            out[model] = tree_margin(booster, Xb, te_b)
    if "bwgnn" in models:
        out["bwgnn"] = bwgnn_logits(fit_bwgnn(ga, tr_a, y_tr, va_a, y_va, cfg), gb)[te_b]
    if "gnn" in models or "hybrid" in models:
        gs = shared_gnn(ga, tr_a, y_tr, va_a, y_va, cfg, models)
        if gs is not None:
            out["gnn"] = gs.platt(gnn_logits(gs.gnn, gb))[te_b]
        if "hybrid" in models:
            fit = fit_hybrid_scorer(ga, names, tr_a, y_tr, va_a, y_va, cfg, fs=fa, gnn_scores=gs)
            X, _ = fit.model.features(gb, fb)
            out["hybrid"] = fit.model.margin(X, te_b)
            calibrator = fit.calibrator()
    return {m: s for m, s in out.items() if m in models}, calibrator


def evaluate_wikipedia(seeds: int = 5, cfg: TrainConfig = EVAL_CONFIG, models: tuple[str, ...] = MODELS,
                       log: Progress | None = None, cut_fraction: float = 0.7, datasets: Path | None = None,
                       ray_config: RayConfig | None = None) -> dict[str, Any]:
    """Run the protocol above (the log read under ``datasets``, see :func:`gnn.benchmark.datasets_root`;
    its builds on ``ray_config``'s Ray); return results with and without observation-length features."""
    from graphs.build import BuildParams, build_snapshot
    from graphs.mapping import EventMapping

    path = datasets_root(datasets) / "jodie-wikipedia" / "wikipedia_events.csv.gz"
    if not path.is_file():
        raise InputError(f"{path} not found; the datasets are read from {datasets_root(datasets)} "
                         "(../shared/datasets next to the repository unless RINGWATCH_DATASETS says otherwise)")
    mapping = EventMapping.from_toml(Path(__file__).resolve().parents[1] / "graphs" / "mappings" / "wikipedia.toml")
    ev = pl.read_csv(path)
    cut_rel = int(cut_fraction * ev["ts"].max())
    cut = dt.datetime.fromtimestamp(ORIGIN + cut_rel, dt.timezone.utc)
    users = user_table(ev)
    early_users = users.filter(pl.col("first") < cut_rel)
    late_users = users.filter(pl.col("first") >= cut_rel)
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ringwatch-wiki-") as tmp:
        home = Home(Path(tmp))
        ray = ray_config or RayConfig()
        early = build_snapshot(home, BuildParams(events=[str(path)], mapping=mapping, until=cut), ray=ray)
        full = build_snapshot(home, BuildParams(events=[str(path)], mapping=mapping), ray=ray)
        pa, pb = home.snapshots.path(early["version"]), home.snapshots.path(full["version"])
        accounts = pl.read_parquet(pa / SNAPSHOT_ACCOUNTS)
        variants = {}
        all_names = feature_names(accounts)
        for variant, names in (("all_features", all_names),
                               ("without_observation_length", [n for n in all_names if n not in OBSERVATION_LENGTH])):
            stats = FeatureStats.fit(accounts, names)
            ga, _ = load_graph(pa, stats)
            gb, _ = load_graph(pb, stats)
            variants[variant] = (ga, gb, names)
        relations = {k: v for k, v in full["counts"]["relations"].items()} if "counts" in full else {}
    build_s = time.perf_counter() - t
    if log:
        log(f"wikipedia: cut at {cut.isoformat()}; built both snapshots in {build_s:.0f}s; relations {relations}")
    ga0 = variants["all_features"][0]
    train_users = early_users.filter(pl.col("u").is_in(pl.Series(ga0.account_ids).to_list()))
    tr_all = train_users["u"].to_numpy()
    y_all = (train_users["ban"].is_not_null() & (train_users["ban"] < cut_rel)).cast(pl.Int64).to_numpy()
    te_ids = late_users["u"].to_numpy()
    y_te = late_users["ban"].is_not_null().cast(pl.Int64).to_numpy()
    result: dict[str, Any] = {"dataset": "wikipedia", "path": str(path), "seeds": seeds, "cut": cut.isoformat(),
                              "protocol": f"temporal: train on users first seen before the {cut_fraction:.0%} time cut "
                                          "(features from events before it, label = banned before it); test = later users",
                              "train_users": int(len(tr_all)), "train_positives": int(y_all.sum()),
                              "labelled": int(len(te_ids)), "positives": int(y_te.sum()), "relations": relations,
                              "goal": dict(zip(("auroc", "auprc"), GOALS["wikipedia"])), "variants": {}}
    first: dict[str, Any] = {}
    calibration: dict[str, Any] = {}
    for variant, (ga, gb, names) in variants.items():
        per_seed, per_seed_cal = [], []
        for seed in range(seeds):
            tr, va = stratified_split(y_all, 0.2, seed)
            scores, cal = run_transfer(ga, gb, names, tr_all[tr], y_all[tr], tr_all[va], y_all[va], te_ids,
                                       replace(cfg, seed=seed), models)
            per_seed.append({m: ranking_metrics(y_te, s.astype(np.float64)) for m, s in scores.items()})
            risk = None if cal is None else cal(scores["hybrid"])
            if cal is not None:
                per_seed_cal.append(calibration_metrics(y_te, risk, cal.thresholds))
            if log:
                log(f"  {variant} seed {seed}: " + ", ".join(f"{m} {v['auroc']:.3f}/{v['auprc']:.3f}" for m, v in per_seed[-1].items()))
            if seed == 0 and variant == "without_observation_length":
                first = {"y": y_te, "scores": scores, "risk": risk}
        result["variants"][variant] = _summary(per_seed)
        calibration[variant] = calibration_summary(per_seed_cal)
    result["models"] = result["variants"]["without_observation_length"]
    result["calibration"] = calibration["without_observation_length"]
    result["calibration_by_variant"] = calibration
    result["note"] = "models = without observation-length features; see variants for both"
    result["_first"] = first
    return result
