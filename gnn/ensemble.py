"""The cross-fitted hybrid: several hybrids over folds of the labelled accounts, averaged.

The validation accounts are split in stratified halves. The training accounts and the first half
are split into ``cross_fit`` stratified folds; member ``k`` is a whole
:class:`gnn.hybrid.HybridModel` (GNNs, label features, boosters) trained on the other folds and
early-stopped on fold ``k``, so with five members each trains on as many accounts as one hybrid
does. The ensemble's score is the mean of the members' log-odds. It is calibrated
(:meth:`ScorerFit.calibrator`) on the second half, which trains and stops no member (its scores
are what the deployed ensemble gives an account it never saw), together with every pool account's
out-of-fold score (from the one member that never trained on it).

Why: on a small, noisy label set one hybrid's score moves with which accounts happened to train
it and which stopped it; members differ in their label features as well as their seeds, and the
average keeps what they agree on.

Why this split (three were measured, README item 12, "The cross-fitted scorer"): members over every
labelled account, calibrated on each account's out-of-fold score (the one member that never saw
it), ranked best, but an isotonic map fitted on one member's scores alone put the MEDIUM floor too
high for the steadier mean of five, and fewer campaign accounts reached the rings. Members over the training
accounts only, calibrated on all the validation accounts, kept the levels but each member saw a
fifth fewer labels than one hybrid and most of the gain went with them.

On a graph without coordination relations (an imported static graph), LINK (:mod:`gnn.link`) is
stacked beside the members' mean where a logistic regression over both out-of-fold scores gives it a
positive weight (:class:`LinkStack`, :func:`with_link`): the trees read neighbourhoods as shares,
LINK reads which accounts an account links to.

Cost: ``cross_fit`` times the training and the scoring work, so graphs over
:data:`MAX_CROSS_FIT_UP_TO` accounts get one hybrid (scoring 1M accounts within 15 s on 2 cores).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import torch

from gnn.calibration import Calibrator
from gnn.data import GraphTensors
from gnn.hybrid import (
    FeatureSet,
    GnnScores,
    HybridModel,
    contributions,
    fit_hybrid,
    stratified_folds,
)
from gnn.link import LinkModel, fit_link
from gnn.model import RingwatchGNN
from ringwatch.errors import InputError

if TYPE_CHECKING:
    from gnn.train import TrainConfig

ENSEMBLE_FILE = "ensemble.json"
MEMBER_GNN_FILE = "gnn.pt"
MAX_CROSS_FIT_UP_TO = 200_000
"""Graphs up to this many accounts get the cross-fitted ensemble; larger ones one hybrid, since every
member scores every account (five members on 1M accounts would take the scoring benchmark past 15 s
on 2 cores). The choice is stored with the model."""


def members_for(cfg: TrainConfig, num_nodes: int) -> int:
    """How many members a model trained with ``cfg`` on a graph of ``num_nodes`` accounts gets (1: one hybrid)."""
    return max(int(cfg.cross_fit), 1) if num_nodes <= MAX_CROSS_FIT_UP_TO else 1


def scorer_members(cfg: TrainConfig, num_nodes: int, y_tr: np.ndarray) -> int:
    """Members the scorer gets for training labels ``y_tr``: :func:`members_for`, at most the labels of
    the scarcer class; 1 (one hybrid) where that leaves fewer than two."""
    k = min(members_for(cfg, num_nodes), int((np.asarray(y_tr) == 1).sum()), int((np.asarray(y_tr) == 0).sum()))
    return k if k >= 2 else 1


def member_count(model: HybridModel | HybridEnsemble) -> int:
    """Members of a scorer: 1 for one hybrid."""
    return len(model.members) if isinstance(model, HybridEnsemble) else 1


def link_weights(model: HybridModel | HybridEnsemble) -> dict[str, float] | None:
    """The stack's weights ``{"a", "b"}`` of a scorer with LINK (:class:`LinkStack`), else ``None``."""
    stack = model.stack if isinstance(model, HybridEnsemble) else None
    return None if stack is None else {"a": stack.a, "b": stack.b}


def _member_dir(directory: Path, k: int) -> Path:
    return directory / f"member-{k}"


LINK_COLUMN = "linked_accounts_logodds"
"""The column a :class:`LinkStack` adds to every member's tree input (no booster reads it): the LINK
logit, the sum of the weights of the accounts the account links to plus the intercept."""


@dataclass
class LinkStack:
    """LINK beside the members: the ensemble's log-odds are ``a * (members' mean) + b * (LINK logit)``.

    ``a`` and ``b`` are a logistic regression's weights over the out-of-fold scores of both (each
    account's from the member, and the LINK fit, that never saw its fold), so LINK counts only
    as far as it adds to the trees (Amazon: ``b`` near 0; Reddit: 0.4–0.8, the quality log).

    Attributes:
        link: The LINK model, fitted on every member-training account.
        a: Weight of the members' mean log-odds.
        b: Weight of the LINK logit (positive: a stack that would not be is left out).
        baseline: The mean LINK logit over the member-training accounts: a reason's zero.
    """

    link: LinkModel
    a: float
    b: float
    baseline: float


@dataclass
class HybridEnsemble:
    """Hybrids trained on folds of the labelled accounts; their log-odds averaged.

    The tree input of an ensemble is a list with one matrix per member (each member's label
    features come from its own training labels), ``[members][num_nodes, columns]``; with a
    :class:`LinkStack` every matrix has the LINK logit as a last column, :data:`LINK_COLUMN`.
    """

    members: list[HybridModel]
    stack: LinkStack | None = None

    @property
    def names(self) -> list[str]:
        return self.members[0].names + ([LINK_COLUMN] if self.stack is not None else [])

    @property
    def gnn(self) -> RingwatchGNN:
        """The first member's GNN (a model version's ``model.pt``)."""
        return self.members[0].gnn

    @property
    def metrics(self) -> dict[str, Any]:
        return {"gnn_best_epoch": [m.metrics.get("gnn_best_epoch") for m in self.members],
                "trees": [m.metrics.get("trees") for m in self.members], "members": len(self.members)}

    def features(self, graph: GraphTensors, fs: FeatureSet | None = None,
                 device: torch.device | None = None) -> tuple[list[np.ndarray], FeatureSet]:
        """Each member's tree input for every account of ``graph``; the label-free blocks are built once."""
        inputs = []
        for member in self.members:
            X, fs = member.features(graph, fs, device)
            inputs.append(X)
        assert fs is not None
        if self.stack is not None:
            link = self.stack.link.logits(fs.adj, graph.account_ids).astype(np.float32)[:, None]
            inputs = [np.concatenate([X, link], axis=1) for X in inputs]
        return inputs, fs

    def margin(self, inputs: list[np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
        """Mean of the members' log-odds for ``rows`` (all rows by default), stacked with LINK where the ensemble has it."""
        mean = np.mean([m.margin(X, rows) for m, X in zip(self.members, inputs)], axis=0)
        if self.stack is not None:
            link = inputs[0][:, -1] if rows is None else inputs[0][rows, -1]
            mean = self.stack.a * mean + self.stack.b * link
        return mean.astype(np.float32)

    def raw(self, graph: GraphTensors, device: torch.device | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Mean log-odds per account, and the members' tree inputs."""
        inputs, _ = self.features(graph, device=device)
        return self.margin(inputs), inputs

    def contributions(self, inputs: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions to the mean log-odds: the mean of the members' (they add up the same
        way); with LINK, those times ``a`` and the LINK column's ``b * (logit - baseline)``."""
        out = np.mean([contributions(m, X[:, : len(m.names)], rows) for m, X in zip(self.members, inputs)], axis=0)
        if self.stack is not None:
            link = self.stack.b * (inputs[0][rows, -1].astype(np.float64) - self.stack.baseline)
            out = np.concatenate([self.stack.a * out, link[:, None]], axis=1)
        return out.astype(np.float32)

    def spectral_coverage(self, inputs: list[np.ndarray]) -> float | None:
        """See :meth:`gnn.hybrid.HybridModel.spectral_coverage` (the members share one basis)."""
        return self.members[0].spectral_coverage(inputs[0])

    def known_abusive(self, graph: GraphTensors) -> np.ndarray:
        """Mask of the accounts any member's training labels call abusive (every training account trains a member)."""
        return np.logical_or.reduce([m.known_abusive(graph) for m in self.members])

    def save(self, directory: Path) -> None:
        """Write each member under ``member-K/`` (its hybrid files and its GNN's weights)."""
        for k, member in enumerate(self.members):
            d = _member_dir(directory, k)
            d.mkdir()
            member.save(d)
            torch.save(member.gnn.state_dict(), d / MEMBER_GNN_FILE)
        meta: dict[str, Any] = {"members": len(self.members)}
        if self.stack is not None:
            self.stack.link.save(directory)
            meta["link_stack"] = {"a": self.stack.a, "b": self.stack.b, "baseline": self.stack.baseline}
        (directory / ENSEMBLE_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path, gnn: RingwatchGNN) -> HybridEnsemble:
        """Read an ensemble written by :meth:`save`; ``gnn`` gives the members' GNN architecture.

        Raises:
            InputError: A member's files are missing.
        """
        meta = json.loads((directory / ENSEMBLE_FILE).read_text())
        count = int(meta["members"])
        members = []
        for k in range(count):
            d = _member_dir(directory, k)
            if not (d / MEMBER_GNN_FILE).is_file():
                raise InputError(f"model {directory.name} is an ensemble of {count} but member {k} ({d.name}) is "
                                 "missing or incomplete; restore the model directory or retrain (`ringwatch train`)")
            member_gnn = copy.deepcopy(gnn)
            member_gnn.load_state_dict(torch.load(d / MEMBER_GNN_FILE, map_location="cpu", weights_only=True))
            member_gnn.eval()
            members.append(HybridModel.load(d, member_gnn))
        for member in members[1:]:  # one basis, so the label-free blocks are built once when scoring
            member.spectral = members[0].spectral
        stack = meta.get("link_stack")  # an ensemble from before LINK has none and scores as it did
        return cls(members, None if stack is None else LinkStack(LinkModel.load(directory), float(stack["a"]),
                                                                 float(stack["b"]), float(stack["baseline"])))


@dataclass(frozen=True)
class ScorerFit:
    """A trained scorer and the labelled scores its calibrator is fitted on.

    Attributes:
        model: One hybrid or the cross-fitted ensemble.
        raw: Log-odds of every node as deployed (those of the accounts the model trained or
            stopped on aside), ``[num_nodes]``.
        held_out: Node indices of the validation accounts that trained no tree of the scorer (one
            hybrid's stop its training; an ensemble's half trains and stops nothing), ``[n]``.
        y_held_out: Their 0/1 labels, ``[n]``.
        oof: An ensemble's member-training accounts' out-of-fold log-odds, each from the one member
            that never trained on it (it was that member's early-stopping fold), ``[m]``; empty for
            one hybrid.
        y_oof: Their 0/1 labels, ``[m]``.
    """

    model: HybridModel | HybridEnsemble
    raw: np.ndarray
    held_out: np.ndarray
    y_held_out: np.ndarray
    oof: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    y_oof: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def calibrator(self) -> Calibrator:
        """Isotonic regression fitted on the held-out accounts' log-odds and the out-of-fold ones.

        Why the out-of-fold scores, for an ensemble: the held-out half alone is what is deployed but
        small (a synthetic platform's: 79 accounts, 30 abusive), and its isotonic steps moved the
        levels from seed to seed (held-out synthetic platforms: CRITICAL precision 0.69 on one seed;
        Reddit and Wikipedia test accounts reached CRITICAL at precision 0.13 and 0). The out-of-fold
        scores are five times as many, from one member rather than the mean of five; with them the
        worst seed's CRITICAL precision rose to 0.80 and no Reddit or Wikipedia account reached
        CRITICAL (README, detection note 13, with a sigmoid over the same accounts, not chosen).
        """
        return Calibrator.fit(np.concatenate([self.raw[self.held_out], self.oof]),
                              np.concatenate([self.y_held_out, self.y_oof]))


def ensemble_split(cfg: TrainConfig, num_nodes: int, y_tr: np.ndarray, y_va: np.ndarray) -> tuple[int, np.ndarray] | None:
    """Whether the scorer of a training / validation split is the cross-fitted ensemble, and how.

    Returns:
        The member count and the mask of the validation positions kept for the calibrator
        (stratified halves: the members take the other half), or ``None`` where the scorer is one
        hybrid: :func:`members_for` gives one, a class has fewer than 2 validation labels, or the
        members' labels allow fewer than 2 (:func:`scorer_members`).
    """
    if members_for(cfg, num_nodes) < 2 or np.bincount(np.asarray(y_va, np.int64), minlength=2).min() < 2:
        return None
    half = stratified_folds(y_va, 2, cfg.seed + 7) == 1
    k = scorer_members(cfg, num_nodes, np.concatenate([y_tr, y_va[~half]]))
    return (k, half) if k >= 2 else None


def fit_hybrid_scorer(graph: GraphTensors, own_names: list[str], tr: np.ndarray, y_tr: np.ndarray, va: np.ndarray,
                      y_va: np.ndarray, cfg: TrainConfig, fs: FeatureSet | None = None,
                      gnn_scores: GnnScores | None = None) -> ScorerFit:
    """Train the scorer on a training / validation split of the labelled accounts.

    One hybrid is trained on ``tr``, stopped on ``va`` and calibrated on ``va``. Where
    :func:`ensemble_split` says so, the cross-fitted ensemble: the validation accounts are split in
    stratified halves; the members cross-fit over the training accounts and the first half (each
    member then trains on as many accounts as one hybrid), and the second half trains and stops
    nothing, so it calibrates the mean as deployed, beside the members' out-of-fold scores.

    Args:
        graph: Graph tensors.
        own_names: Names of the own features (columns of ``graph.x``).
        tr, y_tr: Training node indices and labels.
        va, y_va: Validation node indices and labels.
        cfg: Hyper-parameters.
        fs: Precomputed label-free features.
        gnn_scores: Precomputed :func:`gnn.hybrid.oof_gnn` output (with its out-of-fold GNNs), used
            where :func:`ensemble_split` gives one hybrid; an ensemble's members train their own.

    Returns:
        The scorer, every node's log-odds, and the labelled scores for its calibrator.
    """
    split = ensemble_split(cfg, graph.num_nodes, y_tr, y_va)
    if split is not None:
        k, half = split
        pool, y_pool = np.concatenate([tr, va[~half]]), np.concatenate([y_tr, y_va[~half]])
        fs = fs or FeatureSet.for_training(graph, own_names, cfg)  # built once: fitting and scoring
        ensemble, oof = fit_ensemble(graph, own_names, pool, y_pool, replace(cfg, cross_fit=k), fs)
        if cfg.link and fs.static:
            ensemble, oof = with_link(ensemble, oof, fs, graph.account_ids, pool, y_pool, stratified_folds(y_pool, k, cfg.seed))
        inputs, _ = ensemble.features(graph, fs)
        return ScorerFit(ensemble, ensemble.margin(inputs), va[half], y_va[half], oof, y_pool)
    if gnn_scores is not None and gnn_scores.metrics.get("gnn_folds") != (cfg.gnn_folds if cfg.gnn_folds >= 2 else 0):
        gnn_scores = None  # without its out-of-fold GNNs a training row's GNN block would carry its own label
    model, raw = fit_hybrid(graph, own_names, graph.account_ids, tr, y_tr, va, y_va, cfg, fs, gnn_scores)
    return ScorerFit(model, raw, va, y_va)


def fit_ensemble(graph: GraphTensors, own_names: list[str], nodes: np.ndarray, y: np.ndarray, cfg: TrainConfig,
                 fs: FeatureSet | None = None) -> tuple[HybridEnsemble, np.ndarray]:
    """Train one hybrid per fold of the given labelled accounts, each early-stopped on its fold.

    Args:
        graph: Graph tensors.
        own_names: Names of the own features (columns of ``graph.x``).
        nodes: Labelled node indices (:func:`fit_hybrid_scorer` gives the training accounts and half
            the validation ones; the other half stays out, for the calibrator).
        y: Their 0/1 labels.
        cfg: Hyper-parameters; ``cfg.cross_fit`` members (at least 2).
        fs: Precomputed label-free features (shared by the members).

    Returns:
        The ensemble, and each given account's out-of-fold log-odds (from the member that never
        saw it), ``[len(nodes)]``.

    Raises:
        InputError: Fewer labels of a class than members.
    """
    k = int(cfg.cross_fit)
    if k < 2:
        raise InputError(f"a cross-fitted ensemble needs at least 2 members, got cross_fit={k}")
    counts = np.bincount(np.asarray(y, np.int64), minlength=2)
    if counts.min() < k:
        raise InputError(f"{k} members need at least {k} abusive and {k} benign labelled accounts; found "
                         f"{counts[1]} and {counts[0]}")
    fs = fs or FeatureSet.for_training(graph, own_names, cfg)
    fold = stratified_folds(y, k, cfg.seed)
    members = []
    oof = np.zeros(len(nodes), np.float32)
    for f in range(k):
        tr, va = fold != f, fold == f
        member, raw = fit_hybrid(graph, own_names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va],
                                 replace(cfg, seed=cfg.seed * 10 + f), fs=fs)
        members.append(member)
        oof[va] = raw[nodes[va]]
    return HybridEnsemble(members), oof


def with_link(ensemble: HybridEnsemble, oof: np.ndarray, fs: FeatureSet, account_ids: np.ndarray, nodes: np.ndarray,
              y: np.ndarray, fold: np.ndarray) -> tuple[HybridEnsemble, np.ndarray]:
    """Stack LINK (:mod:`gnn.link`) beside the members where it adds to them.

    Args:
        ensemble: The members, fitted by :func:`fit_ensemble` on ``nodes`` over ``fold``.
        oof: Their out-of-fold log-odds per node of ``nodes``, ``[k]``.
        fs: The label-free blocks of the training graph (LINK reads its adjacency).
        account_ids: Account id per node, ``[n]``.
        nodes, y: The member-training accounts and their labels, ``[k]``.
        fold: The members' fold per node of ``nodes``, ``[k]``.

    Returns:
        The ensemble with a :class:`LinkStack` and the stacked out-of-fold log-odds, or both as given
        where the stacker gives LINK no positive weight (or one class is missing).
    """
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2 or not fs.adj.nnz:
        return ensemble, oof
    link, link_oof = fit_link(fs.adj, account_ids, nodes, y, fold)
    stacker = LogisticRegression(C=1.0).fit(np.stack([oof, link_oof], axis=1).astype(np.float64), y)
    a, b = (float(w) for w in stacker.coef_[0])
    if b <= 0 or a <= 0:
        return ensemble, oof
    baseline = float(np.mean(link.logits(fs.adj[nodes], account_ids)))
    stacked = replace(ensemble, stack=LinkStack(link, a, b, baseline))
    return stacked, (a * oof + b * link_oof).astype(np.float32)


def with_train_labels(model: HybridModel | HybridEnsemble, labels: pl.DataFrame) -> HybridModel | HybridEnsemble:
    """The scorer reading ``labels`` (``account_id, label``) in its label features instead of its
    training labels: a platform scored with its own known accounts."""
    if isinstance(model, HybridEnsemble):
        return replace(model, members=[replace(m, train_labels=labels) for m in model.members])
    return replace(model, train_labels=labels)
