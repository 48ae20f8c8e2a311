"""The shipped scorer: the GNN inside gradient-boosted trees (GADBench's lesson).

One row per account, fed to XGBoost (``hist``):

==================  ========================================================================
block               columns
==================  ========================================================================
own                 the account's standardised features (:mod:`gnn.data`)
spectral            on a graph without coordination relations, the account's coordinates in
                    the training graph's leading eigenvectors (:mod:`gnn.spectral`: which
                    part of the graph it sits in, so the trees can learn that a feature
                    means one thing in one region and another elsewhere); empty on an
                    event-log graph and where the training graph had no main component
graph               degree; mean and max of neighbours' features at 1 and 2 hops
group               on a graph without coordination relations (such as an imported static
                    graph), mean and std of the features over the account and its neighbours
                    together (on YelpChi's R-U-R, every review of the same user: the user's
                    profile); empty on an event-log graph, whose nodes are accounts already
labels              abusive / labelled *training* neighbours at 1 and 2 hops and their share;
                    and along each coordination relation alone (co-action, shared device,
                    same text: a handset or a script shared with a banned account)
nbr_shares          on a graph without coordination relations, each neighbour's own share of
                    abusive training neighbours (the account left out), at worst and on
                    average over the account's neighbours (on Tolokers, the worst co-worker's
                    company); empty on an event-log graph, like the group block
answerers           where the build wrote the answers relation (an event log), each account
                    that answered this one (acted next on the same target within the window:
                    a revert) by its share of abusive training accounts among those it
                    answered, at worst and on average, and how many answered (on Wikipedia, a
                    patroller that reverts editors later banned); empty on an imported graph
spread              neighbours' 1-hop std and min, and the account minus their mean
gnn                 the GNN's score for the account, and the mean / max of its neighbours'
                    GNN scores at 1 and 2 hops (the GNN propagates evidence the trees lack)
==================  ========================================================================

The scorer averages the log-odds of several boosters, one per **view** (``tree_views``): a
view is a subset of the blocks, and ``all`` is every block. By default the own features with
the spectral coordinates, own + spectral + graph + group + labels + nbr_shares, and all blocks
(with the GNN): where the own features carry the signal (Amazon) the narrow view keeps the wide
ones from adding variance, where the neighbourhood does (YelpChi) the wide ones lead; the
spectral coordinates sit in the narrow view too, so that one learns per region (Tolokers); on every evaluated dataset the average was
level with or above the best single view (the README's evaluation). ``tree_bags`` boosters
with different seeds per view (one by default).

Honesty rules, each enforced here and tested:

* Label features use **training** labels only; an account's own label never enters its row.
* The GNN block of a training account is **out-of-fold, whole-row**: ``gnn_folds`` GNNs are
  each trained without one fold of the training accounts, and a fold's rows take *all four*
  GNN columns — its own score and its neighbours' mean / max — from the GNN that never saw
  that fold. (Taking only the own score out-of-fold is not enough: a neighbour's score from a
  GNN trained on the row's own label carries that label back, the trees learn to read it,
  and test accounts, whose neighbours never saw them, lose: measured on YelpChi, 0.959 →
  0.948 AUROC.) Other accounts get the GNN trained on all training accounts, whose
  neighbours' scores likewise carry only *other* accounts' labels. Each GNN is mapped onto
  one scale by a Platt fit on the validation accounts.
* Early stopping (GNN and trees), the Platt maps and the isotonic calibrator use the
  validation accounts only; nothing here ever sees test labels.

Inductive: a new account's row is built from its features and edges (and the stored training
labels of its neighbours), so it is scored like any other.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp
import torch
import xgboost as xgb

from gnn.data import NODE_ROW, GraphTensors, with_node_rows
from gnn.early_stopping import HoldOnTies
from gnn.model import RingwatchGNN
from gnn.neighbors import (
    ANSWERER_NAMES,
    LABEL_NAMES,
    NEIGHBOUR_SHARE_NAMES,
    adjacency,
    answerer_features,
    binary_matrix,
    graph_features,
    group_features,
    label_features,
    link_label_features,
    mean_agg,
    neighbour_share_features,
    score_features,
    spread_features,
)
from gnn.spectral import SpectralBasis, spectral_columns, spectral_names
from ringwatch.errors import InputError
from ringwatch.types import ANSWERS_RELATION, COORDINATION_RELATIONS

if TYPE_CHECKING:
    from gnn.train import TrainConfig

TREES_FILE = "trees.json"
HYBRID_FILE = "hybrid.json"
TRAIN_LABELS_FILE = "train_labels.parquet"
BLOCKS = ("own", "spectral", "graph", "group", "labels", "nbr_shares", "answerers", "spread", "gnn")
"""The tree input's blocks, in column order: each default view (:data:`gnn.train.TrainConfig.tree_views`)
is a prefix of it, so its booster reads a slice of the matrix, never a copy."""
GNN_COLUMNS = ["gnn", "gnn_nbr1_mean", "gnn_nbr1_max", "gnn_nbr2_mean"]
"""The ``gnn`` block (:func:`gnn.neighbors.score_features` of a GNN's scores)."""
ALL_BLOCKS = "all"
"""The view name for every block."""
STATIC_ONLY_BLOCKS = frozenset({"group", "nbr_shares", "spectral"})
"""Blocks with columns only on graphs without coordination relations (:attr:`FeatureSet.static`).
They are also the blocks added since the first hybrid: a model saved before one of them lacks it in
its block list and scores as it did."""
ANSWERS_BLOCKS = frozenset({"answerers"})
"""Blocks with columns only where the graph (or, scoring, the model) has the answers relation
(:data:`gnn.data.SIDE_RELATIONS`); a model saved before them lacks them and scores as it did."""

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
    spread: np.ndarray
    spread_names: list[str]
    group: np.ndarray
    group_names: list[str]
    links: dict[str, sp.csr_matrix] = field(default_factory=dict)
    answers: sp.csr_matrix | None = None  # answerer → answered (binary), where the graph or model has the relation
    basis: SpectralBasis | None = None  # the spectral block's basis (static graphs only)
    spectral: np.ndarray | None = None  # its coordinates for every account, ``[n, SPECTRAL_DIMS]``
    relations: tuple[str, ...] = ()  # the relations pooled into ``adj`` (a model's own when scoring)

    @property
    def link_relations(self) -> tuple[str, ...]:
        return tuple(self.links)

    @property
    def side_relations(self) -> tuple[str, ...]:
        return (ANSWERS_RELATION,) if self.answers is not None else ()

    @property
    def with_max(self) -> bool:
        return any(n.startswith("nbr1_max_") for n in self.graph_names)

    @classmethod
    def for_training(cls, graph: GraphTensors, own_names: list[str], cfg: TrainConfig) -> FeatureSet:
        """The blocks of a training graph: max-of-neighbour features where ``cfg.nbr_max`` asks and
        the graph has at most :data:`MAX_FEATURES_UP_TO` accounts."""
        return cls.of(graph, own_names, cfg.nbr_max and graph.num_nodes <= MAX_FEATURES_UP_TO)

    def on(self, graph: GraphTensors) -> FeatureSet:
        """The same blocks built on another graph, with this set's columns: its own features, link
        and side relations and spectral basis (train on one graph, score another)."""
        return FeatureSet.of(graph, self.own_names, self.with_max, self.link_relations, self.basis, self.side_relations,
                             self.relations)

    @property
    def static(self) -> bool:
        """Whether the graph has no coordination relations, so the :data:`STATIC_ONLY_BLOCKS` have columns."""
        return not self.links

    @classmethod
    def of(cls, graph: GraphTensors, own_names: list[str], with_max: bool = True,
           link_relations: tuple[str, ...] | None = None, basis: SpectralBasis | None = None,
           side_relations: tuple[str, ...] | None = None, relations: tuple[str, ...] | None = None) -> FeatureSet:
        """Build the label-free blocks of ``graph``.

        ``link_relations``: the coordination relations the label block reads one by one (a
        model's own list when scoring; by default those the graph has: an imported static graph
        has none, so its label block has no per-relation columns and it gets the group block).
        ``basis``: the spectral basis to place the accounts in (a model's own when scoring); on a
        static graph without one, it is fitted on ``graph`` (training).
        ``side_relations``: whether the ``answerers`` block reads the answers relation (a model's
        own choice when scoring, so a graph without it gives that block no answerers rather than
        no columns; by default, whether the graph has it).
        ``relations``: the relations pooled into the neighbourhood the graph, spread, group, label
        and gnn blocks read (a model's own when scoring, so an event type that first appears in
        a later log changes no account's columns; by default, those with edges in ``graph``).
        """
        x = graph.x.cpu().numpy()
        if relations is None:
            relations = tuple(sorted({et[1] for et, ei in graph.edge_index.items() if ei.numel() and not et[1].startswith("rev_")}))
        adj = adjacency(graph, relations)
        m1, sq1 = mean_agg(adj, x), mean_agg(adj, x * x)  # shared by the blocks
        g, names = graph_features(x, adj, with_max=with_max, m1=m1)
        sp_, sp_names = spread_features(x, adj, with_min=with_max, m1=m1, sq1=sq1)
        if link_relations is None:
            link_relations = tuple(r for r in COORDINATION_RELATIONS if any(et[1] == r for et in graph.edge_index))
        links = {r: adjacency(graph, (r,)) for r in link_relations}
        if side_relations is None:
            side_relations = tuple(r for r in (ANSWERS_RELATION,) if r in graph.side)
        answers = _answers(graph) if ANSWERS_RELATION in side_relations else None
        # Only a graph without coordination relations (such as an imported static graph, where one
        # relation may join the rows of one user, e.g. YelpChi's R-U-R) gets the group block. On an
        # event-log graph (the build writes the coordination relations) nodes are accounts already,
        # and the group over their neighbours or coordination partners made co-acting fan groups
        # look like farms (held-out synthetic ring precision 0.990 -> 0.976): the block is empty.
        # The same holds for the nbr_shares block (ring member precision 0.990 -> 0.982), built from
        # training labels in :meth:`matrix`: both are the STATIC_ONLY_BLOCKS (see :attr:`static`).
        gr, gr_names = ((np.zeros((len(x), 0), np.float32), []) if links
                        else group_features(x, adj, m1=m1, sq1=sq1))
        spectral = None
        if not links:
            basis = basis if basis is not None else SpectralBasis.fit(adj, graph.account_ids)
            if len(basis.account_ids):  # else no main component: no columns (the basis decides, not the graph)
                spectral = basis.coordinates(adj, graph.account_ids)
        return cls(x, adj, g, [_readable(n, own_names) for n in names], list(own_names), sp_,
                   [_readable(n, own_names) for n in sp_names], gr, [_readable(n, own_names) for n in gr_names], links,
                   answers, basis if not links else None, spectral, tuple(relations))

    def matrix(self, blocks: tuple[str, ...], train_nodes: np.ndarray | None = None, train_y: np.ndarray | None = None,
               gnn_block: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
        """Concatenate the requested blocks, in the order given (``labels`` and ``nbr_shares``
        need training labels, ``gnn`` a :meth:`GnnScores.block`)."""
        parts, names = [], []
        for block in blocks:
            if block == "own":
                parts.append(self.x)
                names += self.own_names
            elif block == "graph":
                parts.append(self.graph)
                names += self.graph_names
            elif block == "spread":
                parts.append(self.spread)
                names += self.spread_names
            elif block == "group":
                parts.append(self.group)
                names += self.group_names
            elif block == "nbr_shares":
                assert train_nodes is not None and train_y is not None
                if self.static:
                    shares, share_names = neighbour_share_features(self.adj, len(self.x), train_nodes, train_y)
                    parts.append(shares)
                    names += share_names
            elif block == "answerers":
                assert train_nodes is not None and train_y is not None
                if self.answers is not None:
                    af, an = answerer_features(self.answers, len(self.x), train_nodes, train_y)
                    parts.append(af)
                    names += an
            elif block == "spectral":
                if self.spectral is not None:
                    parts.append(self.spectral)
                    names += spectral_names(self.spectral.shape[1])
            elif block == "labels":
                assert train_nodes is not None and train_y is not None
                lf, ln = label_features(self.adj, len(self.x), train_nodes, train_y)
                kf, kn = link_label_features(self.links, len(self.x), train_nodes, train_y)
                parts += [lf, kf]
                names += ln + kn
            elif block == "gnn":
                assert gnn_block is not None
                parts.append(gnn_block)
                names += GNN_COLUMNS
        return np.concatenate(parts, axis=1).astype(np.float32, copy=False), names

    def columns(self, blocks: tuple[str, ...], view: tuple[str, ...]) -> np.ndarray:
        """Positions of the ``view`` blocks' columns in a :meth:`matrix` of ``blocks``."""
        widths = {"own": len(self.own_names), "graph": len(self.graph_names), "spread": len(self.spread_names),
                  "group": len(self.group_names),
                  "labels": len(LABEL_NAMES) + 2 * len(self.links),
                  "nbr_shares": len(NEIGHBOUR_SHARE_NAMES) if self.static else 0,
                  "answerers": len(ANSWERER_NAMES) if self.answers is not None else 0,
                  "spectral": self.spectral.shape[1] if self.spectral is not None else 0, "gnn": len(GNN_COLUMNS)}
        start, out = 0, []
        for block in blocks:
            if block in view:
                out.append(np.arange(start, start + widths[block]))
            start += widths[block]
        return np.concatenate(out)


def _answers(graph: GraphTensors) -> sp.csr_matrix:
    """The graph's answers relation as a binary answerer → answered matrix (empty where it has none)."""
    ei = graph.side.get(ANSWERS_RELATION)
    return binary_matrix(np.zeros((2, 0), np.int64) if ei is None else ei.cpu().numpy(), graph.num_nodes)


def view_blocks(view: str) -> tuple[str, ...]:
    """The blocks of a view: ``all``, or block names joined by ``+`` (e.g. ``own+graph+group+labels``).

    Raises:
        InputError: A name that is not a block.
    """
    if view == ALL_BLOCKS:
        return BLOCKS
    names = tuple(view.split("+"))
    unknown = [n for n in names if n not in BLOCKS]
    if unknown or not names:
        raise InputError(f"tree view {view!r} names unknown block(s) {unknown}; valid: {ALL_BLOCKS!r} or "
                         f"'+'-joined names from {', '.join(BLOCKS)}")
    return tuple(b for b in BLOCKS if b in names)


@dataclass
class GnnScores:
    """The GNNs of one training run, as the trees see them.

    Attributes:
        gnn: The GNN trained on all training accounts (the one that is deployed).
        platt: Its map onto the validation log-odds scale.
        full: Its scores for every node, ``[n]``.
        folds: Per fold: the training nodes held out, and every node's score from the GNN
            trained without them.
        metrics: Training facts (best epoch, folds).
    """

    gnn: RingwatchGNN
    platt: Platt
    full: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    metrics: dict[str, Any]

    def block(self, adj: sp.csr_matrix, fitting: bool) -> np.ndarray:
        """The ``gnn`` block ``[n, 4]``: deployed scores, or (``fitting``) fold rows from their fold's GNN."""
        out, _ = score_features(adj, self.full, "gnn")
        if fitting:
            for held, scores in self.folds:
                out[held] = score_features(adj, scores, "gnn")[0][held]
        return out


def _readable(name: str, own: list[str]) -> str:
    head, _, idx = name.rpartition("_")
    return f"{head}_{own[int(idx)]}" if idx.isdigit() and int(idx) < len(own) else name


def xgb_params(cfg: TrainConfig) -> dict[str, Any]:
    return {"objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist", "nthread": cfg.threads,
            "max_depth": cfg.tree_depth, "eta": cfg.tree_lr, "subsample": 0.8, "colsample_bytree": 0.8,
            "min_child_weight": 1.0, "seed": cfg.seed, "verbosity": 0}


def fit_trees(X: np.ndarray, tr: np.ndarray, y_tr: np.ndarray, va: np.ndarray, y_va: np.ndarray, cfg: TrainConfig,
              names: list[str] | None = None) -> xgb.Booster:
    """Gradient-boosted trees on rows ``tr``, early-stopped on rows ``va`` (validation log-loss; a
    round that ties the best counts as the best, see :mod:`gnn.early_stopping`)."""
    dtr = xgb.DMatrix(X[tr], label=y_tr, feature_names=_safe(names))
    dva = xgb.DMatrix(X[va], label=y_va, feature_names=_safe(names))
    evals = [(dva, "val")] if len(np.unique(y_va)) > 1 else []
    params = xgb_params(cfg)
    stop = [HoldOnTies(cfg.tree_patience, "val", params["eval_metric"])] if evals else None
    return xgb.train(params, dtr, num_boost_round=cfg.trees, evals=evals, callbacks=stop, verbose_eval=False)


def tree_margin(booster: xgb.Booster, X: np.ndarray, rows: np.ndarray | None = None,
                cols: np.ndarray | None = None) -> np.ndarray:
    """Log-odds of the trees (best iteration) for ``rows`` of ``X`` (all rows by default) on
    columns ``cols`` (all by default)."""
    it = booster.best_iteration + 1 if booster.attr("best_iteration") is not None else 0
    # in place: no DMatrix copy of the rows (at 1M accounts that copy took longer than the trees)
    out = booster.inplace_predict(_take(X, rows, cols), iteration_range=(0, it), predict_type="margin")
    return np.asarray(out, np.float32)


def _take(X: np.ndarray, rows: np.ndarray | None, cols: np.ndarray | None) -> np.ndarray:
    """``X[rows][:, cols]``, slicing instead of copying where the columns are one increasing run."""
    if cols is not None:
        if len(cols) == 0 or not bool(np.all(np.diff(cols) == 1)):
            return X[:, cols] if rows is None else X[np.ix_(rows, cols)]
        X = X[:, cols[0]: cols[-1] + 1]
    return X if rows is None else X[rows]


def _safe(names: list[str] | None) -> list[str] | None:
    """Column names XGBoost accepts, unique: a repeat gets ``#i`` (its position) until it is new."""
    if names is None:
        return None
    out = [n.replace("[", "(").replace("]", ")").replace("<", "lt") for n in names]
    seen: set[str] = set()
    for i, n in enumerate(out):
        while n in seen:
            n = f"{n}#{i}"
        out[i] = n
        seen.add(n)
    return out


@dataclass
class HybridModel:
    """A trained hybrid scorer: the final GNN, its Platt map, the boosters of every view and the training labels."""

    gnn: RingwatchGNN
    platt: Platt
    boosters: list[xgb.Booster]
    names: list[str]
    train_labels: pl.DataFrame  # account_id, label: the only labels that feed features
    with_max: bool = True
    metrics: dict[str, Any] = field(default_factory=dict)
    views: list[str] = field(default_factory=lambda: [ALL_BLOCKS])
    blocks: tuple[str, ...] = BLOCKS  # column order of the tree input it was trained on
    link_relations: tuple[str, ...] = ()  # the relations its label block reads one by one
    side_relations: tuple[str, ...] = ()  # the relations its answerers block reads
    spectral: SpectralBasis | None = None  # the basis of its spectral block (trained on a static graph)
    relations: tuple[str, ...] | None = None  # the relations its neighbourhood pools (None: a model from before, all)
    lone_missing: bool = True  # a neighbourless account's gnn neighbour columns are NaN (False: a model from before)

    @property
    def columns(self) -> list[np.ndarray]:
        """Per booster, the positions of its columns in the full tree input (from its feature names)."""
        position = {n: i for i, n in enumerate(_safe(self.names) or [])}
        return [np.array([position[n] for n in b.feature_names or []], np.int64) for b in self.boosters]

    def gnn_score(self, graph: GraphTensors, device: torch.device | None = None) -> np.ndarray:
        from gnn.train import gnn_logits

        return self.platt(gnn_logits(self.gnn, graph, device))

    def features(self, graph: GraphTensors, fs: FeatureSet | None = None, device: torch.device | None = None) -> tuple[np.ndarray, FeatureSet]:
        """The tree input for every account of ``graph`` (inductive: from features, edges, training labels).

        The GNN scores the graph in a worker thread while the neighbour blocks are built: torch
        and SciPy's sparse products both release the GIL, and the two are independent (1M
        accounts / 10M edges: the GNN's 2–3 s hide behind the blocks' 4–6 s; same numbers).
        """
        with ThreadPoolExecutor(max_workers=1) as pool:
            gnn = pool.submit(self.gnn_score, graph, device)
            # a model without a stored basis (an event-log one, or one from before the block) reads no
            # spectral columns, so none are fitted for it
            basis = self.spectral if self.spectral is not None else SpectralBasis.empty()
            if (fs is None or fs.link_relations != self.link_relations or fs.side_relations != self.side_relations
                    or (fs.basis is not None and fs.basis is not self.spectral)
                    or (self.relations is not None and fs.relations != self.relations)):
                fs = FeatureSet.of(graph, self.names[: graph.x.shape[1]], self.with_max, self.link_relations, basis,
                                   self.side_relations, self.relations)
            known = with_node_rows(graph.account_ids, self.train_labels)
            gnn_block, _ = score_features(fs.adj, gnn.result(), "gnn", self.lone_missing)
        X, names = fs.matrix(self.blocks, known[NODE_ROW].to_numpy(), known["label"].to_numpy(), gnn_block)
        if names != self.names:
            changed = sorted(set(self.names) ^ set(names))[:6]
            raise InputError(f"the model was trained on other tree columns than this version builds (differing: "
                             f"{changed}); retrain it (`ringwatch train`)")
        return X, fs

    def spectral_coverage(self, X: np.ndarray) -> float | None:
        """Share of the accounts of a tree input ``X`` (from :meth:`features`) that the spectral basis
        places: those with a neighbour it embeds. ``None`` where the model reads no spectral columns.

        A basis is fitted only where the main component holds :data:`gnn.spectral.MIN_MAIN_SHARE`
        of the accounts, so on its training graph this is at least that; well under it, the scored
        graph has moved away from the one the trees learnt positions on.
        """
        cols = spectral_columns(self.names)
        if not cols or not len(X):
            return None
        return float(np.any(X[:, cols] != 0, axis=1).mean())

    def known_abusive(self, graph: GraphTensors) -> np.ndarray:
        """Mask of the accounts of ``graph`` its training labels call abusive, ``[num_nodes]``."""
        bad = self.train_labels.filter(pl.col("label") == 1)["account_id"]
        return pl.Series(graph.account_ids).is_in(bad.implode()).to_numpy()

    def margin(self, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Mean log-odds of the boosters, each on its columns, for ``rows`` of ``X`` (all rows by default)."""
        return np.mean([tree_margin(b, X, rows, c) for b, c in zip(self.boosters, self.columns)], axis=0).astype(np.float32)

    def raw(self, graph: GraphTensors, device: torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Tree log-odds per account, and the tree input used."""
        X, _ = self.features(graph, device=device)
        return self.margin(X), X

    def contributions(self, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """See :func:`contributions`."""
        return contributions(self, X, rows)

    def save(self, directory: Path) -> None:
        for k, booster in enumerate(self.boosters):
            booster.save_model(str(directory / _trees_file(k)))
        self.train_labels.write_parquet(directory / TRAIN_LABELS_FILE)
        if self.spectral is not None:
            self.spectral.save(directory)
        (directory / HYBRID_FILE).write_text(json.dumps({"platt": [self.platt.a, self.platt.b], "names": self.names,
                                                         "with_max": self.with_max, "blocks": list(self.blocks),
                                                         "views": self.views, "bags": len(self.boosters),
                                                         "link_relations": list(self.link_relations),
                                                         "side_relations": list(self.side_relations),
                                                         "relations": None if self.relations is None else list(self.relations),
                                                         "lone_missing": self.lone_missing},
                                                        indent=2))

    @classmethod
    def load(cls, directory: Path, gnn: RingwatchGNN) -> HybridModel:
        meta = json.loads((directory / HYBRID_FILE).read_text())
        blocks = tuple(meta.get("blocks", ()))
        # a model from before the group, nbr_shares, spectral or answerers block lacks it and scores as it did
        if (len(set(blocks)) != len(blocks) or not set(blocks) <= set(BLOCKS)
                or not set(BLOCKS) - set(blocks) <= STATIC_ONLY_BLOCKS | ANSWERS_BLOCKS):
            raise InputError(f"model {directory.name} was trained with feature blocks {meta.get('blocks')}; this version "
                             f"scores with {list(BLOCKS)}: retrain it (`ringwatch train`)")
        boosters = []
        for k in range(int(meta.get("bags", 1))):
            booster = xgb.Booster()
            booster.load_model(str(directory / _trees_file(k)))
            booster.set_param({"nthread": 2})
            boosters.append(booster)
        basis = SpectralBasis.load(directory)
        if basis is None and spectral_columns(meta["names"]):
            raise InputError(f"model {directory.name} reads spectral coordinates but its basis (spectral.parquet, "
                             "spectral.json) is missing; restore the model directory or retrain (`ringwatch train`)")
        return cls(gnn, Platt(*meta["platt"]), boosters, meta["names"], pl.read_parquet(directory / TRAIN_LABELS_FILE),
                   meta["with_max"], views=list(meta.get("views", [ALL_BLOCKS])), blocks=blocks,
                   link_relations=tuple(meta.get("link_relations", ())), spectral=basis,
                   side_relations=tuple(meta.get("side_relations", ())),
                   relations=None if meta.get("relations") is None else tuple(meta["relations"]),
                   lone_missing=bool(meta.get("lone_missing", False)))


def _trees_file(k: int) -> str:
    return TREES_FILE if k == 0 else TREES_FILE.replace(".json", f".{k}.json")


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold id (``0..k-1``) per position of ``y``, each fold with the same class balance."""
    rng = np.random.default_rng(seed + 101)
    fold = np.zeros(len(y), np.int64)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return fold


def oof_gnn(graph: GraphTensors, tr: np.ndarray, y_tr: np.ndarray, va: np.ndarray, y_va: np.ndarray,
            cfg: TrainConfig) -> GnnScores:
    """Train the full-data GNN and one GNN per fold of the training nodes (see :class:`GnnScores`).

    Args:
        graph: Graph tensors.
        tr, y_tr: Training node indices and labels.
        va, y_va: Validation node indices and labels (early stopping and Platt maps).
        cfg: Hyper-parameters (``gnn_folds`` folds; fewer than 2 trains the full GNN only).

    Returns:
        The GNNs' scores on a common log-odds scale.
    """
    from gnn.train import gnn_logits, train_gnn

    final, best_epoch, _, device = train_gnn(graph, tr, y_tr, va, y_va, cfg)
    logits = gnn_logits(final, graph, device)
    platt = Platt.fit(logits[va], y_va)
    folds: list[tuple[np.ndarray, np.ndarray]] = []
    k = max(int(cfg.gnn_folds), 0)
    if k >= 2:
        fold = stratified_folds(y_tr, k, cfg.seed)
        for f in range(k):
            model, _, _, dev = train_gnn(graph, tr[fold != f], y_tr[fold != f], va, y_va, cfg)
            lg = gnn_logits(model, graph, dev)
            folds.append((tr[fold == f], Platt.fit(lg[va], y_va)(lg)))
    return GnnScores(final.cpu(), platt, platt(logits), folds, {"gnn_best_epoch": best_epoch, "gnn_folds": len(folds)})


def fit_hybrid(graph: GraphTensors, own_names: list[str], account_ids: np.ndarray, tr: np.ndarray, y_tr: np.ndarray,
               va: np.ndarray, y_va: np.ndarray, cfg: TrainConfig, fs: FeatureSet | None = None,
               gnn_scores: GnnScores | None = None) -> tuple[HybridModel, np.ndarray]:
    """Train the hybrid scorer.

    Args:
        graph: Graph tensors.
        own_names: Names of the own features (columns of ``graph.x``).
        account_ids: Account id per node.
        tr, y_tr: Training node indices and labels (the only labels features may use).
        va, y_va: Validation node indices and labels (early stopping, Platt maps).
        cfg: Hyper-parameters.
        fs: Precomputed label-free features (reused across seeds in evaluation).
        gnn_scores: Precomputed :func:`oof_gnn` output.

    Returns:
        The model and the raw tree log-odds of every node *as trained* (training rows use the
        out-of-fold GNN block; validation and other rows are exactly as deployed).
    """
    fs = fs or FeatureSet.for_training(graph, own_names, cfg)
    views = list(cfg.tree_views) or [ALL_BLOCKS]
    view_cols = [fs.columns(BLOCKS, view_blocks(view)) for view in views]
    empty = [view for view, cols in zip(views, view_cols) if not len(cols)]
    if empty:  # before any GNN is trained
        raise InputError(f"tree view(s) {empty} have no columns on this graph (the {', '.join(sorted(STATIC_ONLY_BLOCKS))} "
                         f"blocks are empty where the graph has coordination relations, spectral also where no "
                         f"component holds half the accounts; answerers where it has no answers relation); "
                         f"name other blocks")
    gs = gnn_scores or oof_gnn(graph, tr, y_tr, va, y_va, cfg)
    X, names = fs.matrix(BLOCKS, tr, y_tr, gs.block(fs.adj, fitting=True))
    safe = _safe(names) or []
    boosters = []
    for k, cols in enumerate(view_cols):
        Xv = _take(X, None, cols)
        boosters += [fit_trees(Xv, tr, y_tr, va, y_va, replace(cfg, seed=cfg.seed * 1000 + 100 * k + b), [safe[c] for c in cols])
                     for b in range(max(int(cfg.tree_bags), 1))]
    labels = pl.DataFrame({"account_id": account_ids[tr], "label": np.asarray(y_tr, np.int64)})
    with_max = fs.with_max
    rounds = [b.best_iteration + 1 if b.attr("best_iteration") else cfg.trees for b in boosters]
    model = HybridModel(gs.gnn, gs.platt, boosters, names, labels, with_max, {**gs.metrics, "trees": rounds}, views,
                        blocks=BLOCKS, link_relations=fs.link_relations, spectral=fs.basis,
                        side_relations=fs.side_relations, relations=fs.relations)
    return model, model.margin(X)


def contributions(model: HybridModel, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """TreeSHAP contributions of each column of ``X`` to each row's mean log-odds (bias column dropped).

    Each booster's contributions land on its own columns; a column no booster reads gets 0.
    """
    out = np.zeros((len(rows), X.shape[1]), np.float64)
    if len(rows) == 0:
        return out.astype(np.float32)
    for booster, cols in zip(model.boosters, model.columns):
        it = booster.best_iteration + 1 if booster.attr("best_iteration") is not None else 0
        d = xgb.DMatrix(_take(X, rows, cols), feature_names=booster.feature_names)
        out[:, cols] += booster.predict(d, pred_contribs=True, iteration_range=(0, it))[:, :-1]
    return (out / len(model.boosters)).astype(np.float32)
