"""The shipped scorer: the GNN inside gradient-boosted trees (GADBench's lesson).

One row per account, fed to XGBoost (``hist``):

==================  ========================================================================
block               columns
==================  ========================================================================
own                 the account's standardised features (:mod:`gnn.data`)
graph               degree; mean and max of neighbours' features at 1 and 2 hops
labels              abusive / labelled *training* neighbours at 1 and 2 hops and their share
gnn                 the GNN's score for the account, and the mean / max of its neighbours'
                    GNN scores at 1 and 2 hops (the GNN propagates evidence the trees lack)
==================  ========================================================================

Honesty rules, each enforced here and tested:

* Label features use **training** labels only; an account's own label never enters its row.
* The GNN column of a training account is **out-of-fold**: ``gnn_folds`` GNNs are each
  trained without one fold of the training accounts and score that fold, so the trees never
  see a GNN score that memorised the row's own label. Other accounts get the score of a GNN
  trained on all training accounts. Each GNN is mapped onto one scale by a Platt fit on the
  validation accounts.
* Early stopping (GNN and trees), the Platt maps and the isotonic calibrator use the
  validation accounts only; nothing here ever sees test labels.

Inductive: a new account's row is built from its features and edges (and the stored training
labels of its neighbours), so it is scored like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp
import torch
import xgboost as xgb

from gnn.data import GraphTensors
from gnn.model import RingwatchGNN
from gnn.neighbors import adjacency, graph_features, label_features, score_features

if TYPE_CHECKING:
    from gnn.train import TrainConfig

TREES_FILE = "trees.json"
HYBRID_FILE = "hybrid.json"
TRAIN_LABELS_FILE = "train_labels.parquet"
BLOCKS = ("own", "graph", "labels", "gnn")
MAX_FEATURES_UP_TO = 500_000
"""Max-of-neighbour features are built for graphs up to this many accounts (``nbr_max``);
above it the mean aggregates (sparse products) carry the neighbourhood, which keeps scoring
1M accounts / 10M edges within seconds on 2 cores. The choice is stored with the model."""


@dataclass
class Platt:
    """``a * logit + b``: one GNN's logits on the validation accounts' log-odds scale."""

    a: float = 1.0
    b: float = 0.0

    @classmethod
    def fit(cls, logits: np.ndarray, y: np.ndarray) -> Platt:
        from sklearn.linear_model import LogisticRegression

        if len(np.unique(y)) < 2:
            return cls()
        lr = LogisticRegression(C=1.0).fit(logits.reshape(-1, 1).astype(np.float64), y)
        return cls(float(lr.coef_[0, 0]), float(lr.intercept_[0]))

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        return (self.a * logits + self.b).astype(np.float32)


@dataclass
class FeatureSet:
    """The tree input and its column names; built once per graph, reused across models."""

    x: np.ndarray
    adj: sp.csr_matrix
    graph: np.ndarray
    graph_names: list[str]
    own_names: list[str]

    @classmethod
    def of(cls, graph: GraphTensors, own_names: list[str], with_max: bool = True) -> FeatureSet:
        x = graph.x.cpu().numpy()
        adj = adjacency(graph)
        g, names = graph_features(x, adj, with_max=with_max)
        names = [_readable(n, own_names) for n in names]
        return cls(x, adj, g, names, list(own_names))

    def matrix(self, blocks: tuple[str, ...], train_nodes: np.ndarray | None = None, train_y: np.ndarray | None = None,
               gnn_score: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
        """Concatenate the requested blocks (``labels`` needs training labels, ``gnn`` a score)."""
        parts, names = [], []
        if "own" in blocks:
            parts.append(self.x)
            names += self.own_names
        if "graph" in blocks:
            parts.append(self.graph)
            names += self.graph_names
        if "labels" in blocks:
            assert train_nodes is not None and train_y is not None
            lf, ln = label_features(self.adj, len(self.x), train_nodes, train_y)
            parts.append(lf)
            names += ln
        if "gnn" in blocks:
            assert gnn_score is not None
            sf, sn = score_features(self.adj, gnn_score, "gnn")
            parts.append(sf)
            names += sn
        return np.concatenate(parts, axis=1).astype(np.float32), names


def _readable(name: str, own: list[str]) -> str:
    head, _, idx = name.rpartition("_")
    return f"{head}_{own[int(idx)]}" if idx.isdigit() and int(idx) < len(own) else name


def xgb_params(cfg: TrainConfig) -> dict[str, Any]:
    return {"objective": "binary:logistic", "eval_metric": "aucpr", "tree_method": "hist", "nthread": cfg.threads,
            "max_depth": cfg.tree_depth, "eta": cfg.tree_lr, "subsample": 0.8, "colsample_bytree": 0.8,
            "min_child_weight": 1.0, "seed": cfg.seed, "verbosity": 0}


def fit_trees(X: np.ndarray, tr: np.ndarray, y_tr: np.ndarray, va: np.ndarray, y_va: np.ndarray, cfg: TrainConfig,
              names: list[str] | None = None) -> xgb.Booster:
    """Gradient-boosted trees on rows ``tr``, early-stopped on rows ``va`` (validation AUPRC)."""
    dtr = xgb.DMatrix(X[tr], label=y_tr, feature_names=_safe(names))
    dva = xgb.DMatrix(X[va], label=y_va, feature_names=_safe(names))
    evals = [(dva, "val")] if len(np.unique(y_va)) > 1 else []
    return xgb.train(xgb_params(cfg), dtr, num_boost_round=cfg.trees, evals=evals,
                     early_stopping_rounds=cfg.tree_patience if evals else None, verbose_eval=False)


def tree_margin(booster: xgb.Booster, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Log-odds of the trees (best iteration) for ``rows`` of ``X`` (all rows by default)."""
    data = X if rows is None else X[rows]
    it = booster.best_iteration + 1 if booster.attr("best_iteration") is not None else 0
    d = xgb.DMatrix(data, feature_names=booster.feature_names)
    return booster.predict(d, output_margin=True, iteration_range=(0, it)).astype(np.float32)


def _safe(names: list[str] | None) -> list[str] | None:
    if names is None:
        return None
    out = [n.replace("[", "(").replace("]", ")").replace("<", "lt") for n in names]
    seen: dict[str, int] = {}
    for i, n in enumerate(out):
        if n in seen:
            out[i] = f"{n}#{i}"
        seen[n] = i
    return out


@dataclass
class HybridModel:
    """A trained hybrid scorer: the final GNN, its Platt map, the trees and the training labels."""

    gnn: RingwatchGNN
    platt: Platt
    booster: xgb.Booster
    names: list[str]
    train_labels: pl.DataFrame  # account_id, label: the only labels that feed features
    with_max: bool = True
    metrics: dict[str, Any] = field(default_factory=dict)

    def gnn_score(self, graph: GraphTensors, device: torch.device | None = None) -> np.ndarray:
        from gnn.train import gnn_logits

        return self.platt(gnn_logits(self.gnn, graph, device))

    def features(self, graph: GraphTensors, fs: FeatureSet | None = None, device: torch.device | None = None) -> tuple[np.ndarray, FeatureSet]:
        """The tree input for every account of ``graph`` (inductive: from features, edges, training labels)."""
        fs = fs or FeatureSet.of(graph, self.names[: graph.x.shape[1]], self.with_max)
        idx = pl.DataFrame({"account_id": graph.account_ids, "_i": np.arange(graph.num_nodes)})
        known = self.train_labels.join(idx, on="account_id", how="inner")
        X, _ = fs.matrix(BLOCKS, known["_i"].to_numpy(), known["label"].to_numpy(), self.gnn_score(graph, device))
        return X, fs

    def raw(self, graph: GraphTensors, device: torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Tree log-odds per account, and the tree input used."""
        X, _ = self.features(graph, device=device)
        return tree_margin(self.booster, X), X

    def save(self, directory: Path) -> None:
        self.booster.save_model(str(directory / TREES_FILE))
        self.train_labels.write_parquet(directory / TRAIN_LABELS_FILE)
        (directory / HYBRID_FILE).write_text(json.dumps({"platt": [self.platt.a, self.platt.b], "names": self.names,
                                                         "with_max": self.with_max, "blocks": list(BLOCKS)}, indent=2))

    @classmethod
    def load(cls, directory: Path, gnn: RingwatchGNN) -> HybridModel:
        meta = json.loads((directory / HYBRID_FILE).read_text())
        booster = xgb.Booster()
        booster.load_model(str(directory / TREES_FILE))
        booster.set_param({"nthread": 2})
        return cls(gnn, Platt(*meta["platt"]), booster, meta["names"], pl.read_parquet(directory / TRAIN_LABELS_FILE),
                   meta["with_max"])


def oof_gnn(graph: GraphTensors, tr: np.ndarray, y_tr: np.ndarray, va: np.ndarray, y_va: np.ndarray,
            cfg: TrainConfig) -> tuple[np.ndarray, RingwatchGNN, Platt, dict[str, Any]]:
    """GNN scores for every node: out-of-fold on training nodes, the full-data GNN elsewhere.

    Args:
        graph: Graph tensors.
        tr, y_tr: Training node indices and labels.
        va, y_va: Validation node indices and labels (early stopping and Platt maps).
        cfg: Hyper-parameters (``gnn_folds`` folds).

    Returns:
        Scores on a common log-odds scale, the full-data GNN, its Platt map, metrics.
    """
    from gnn.train import gnn_logits, stratified_split, train_gnn

    scores = np.zeros(graph.num_nodes, np.float32)
    final, best_epoch, _, device = train_gnn(graph, tr, y_tr, va, y_va, cfg)
    logits = gnn_logits(final, graph, device)
    platt = Platt.fit(logits[va], y_va)
    scores[:] = platt(logits)
    folds = max(int(cfg.gnn_folds), 0)
    if folds >= 2:
        remaining = np.arange(len(tr))
        for k in range(folds):
            # stratified folds: split off 1/(folds-k) of what is left
            if k == folds - 1:
                hold = remaining
            else:
                keep_idx, hold_idx = stratified_split(y_tr[remaining], 1.0 / (folds - k), cfg.seed + 101 * k)
                hold, remaining = remaining[hold_idx], remaining[keep_idx]
            fit_idx = np.setdiff1d(np.arange(len(tr)), hold)
            model, _, _, dev = train_gnn(graph, tr[fit_idx], y_tr[fit_idx], va, y_va, cfg)
            lg = gnn_logits(model, graph, dev)
            p = Platt.fit(lg[va], y_va)
            scores[tr[hold]] = p(lg[tr[hold]])
    return scores, final.cpu(), platt, {"gnn_best_epoch": best_epoch, "gnn_folds": folds}


def fit_hybrid(graph: GraphTensors, own_names: list[str], account_ids: np.ndarray, tr: np.ndarray, y_tr: np.ndarray,
               va: np.ndarray, y_va: np.ndarray, cfg: TrainConfig, fs: FeatureSet | None = None,
               gnn_oof: tuple[np.ndarray, RingwatchGNN, Platt, dict[str, Any]] | None = None) -> tuple[HybridModel, np.ndarray]:
    """Train the hybrid scorer.

    Args:
        graph: Graph tensors.
        own_names: Names of the own features (columns of ``graph.x``).
        account_ids: Account id per node.
        tr, y_tr: Training node indices and labels (the only labels features may use).
        va, y_va: Validation node indices and labels (early stopping, Platt maps).
        cfg: Hyper-parameters.
        fs: Precomputed label-free features (reused across seeds in evaluation).
        gnn_oof: Precomputed :func:`oof_gnn` output.

    Returns:
        The model and the raw tree log-odds of every node *as trained* (training rows use the
        out-of-fold GNN column).
    """
    fs = fs or FeatureSet.of(graph, own_names, cfg.nbr_max and graph.num_nodes <= MAX_FEATURES_UP_TO)
    scores, gnn, platt, gnn_metrics = gnn_oof or oof_gnn(graph, tr, y_tr, va, y_va, cfg)
    X, names = fs.matrix(BLOCKS, tr, y_tr, scores)
    booster = fit_trees(X, tr, y_tr, va, y_va, cfg, names)
    raw = tree_margin(booster, X)
    labels = pl.DataFrame({"account_id": account_ids[tr], "label": np.asarray(y_tr, np.int64)})
    with_max = any(n.startswith("nbr1_max_") for n in names)
    model = HybridModel(gnn, platt, booster, names, labels, with_max,
                        {**gnn_metrics, "trees": booster.best_iteration + 1 if booster.attr("best_iteration") else cfg.trees})
    return model, raw


def contributions(booster: xgb.Booster, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """TreeSHAP contributions of each feature to each row's log-odds (bias column dropped)."""
    if len(rows) == 0:
        return np.zeros((0, X.shape[1]), np.float32)
    it = booster.best_iteration + 1 if booster.attr("best_iteration") is not None else 0
    d = xgb.DMatrix(X[rows], feature_names=booster.feature_names)
    return booster.predict(d, pred_contribs=True, iteration_range=(0, it))[:, :-1].astype(np.float32)
