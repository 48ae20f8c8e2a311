"""LINK: a logistic regression on *which* accounts an account is linked to.

The label blocks of :mod:`gnn.hybrid` pool a neighbourhood into shares (how many of an account's
neighbours are known abusive); the trees cannot read the neighbours one by one. LINK (Zheleva &
Getoor, WWW 2009; the LINK baseline of LINKX, Lim et al., NeurIPS 2021) does: one weight per
neighbour account, fitted on the training labels, so an account is scored by the particular
subreddits, co-workers or co-reviewers it links to — a subreddit where banned users gather gets a
large weight even when most of its users are fine, which a share dilutes. On Reddit's
user–subreddit graph it ranks the top of the list better than the trees (README, item 20).

It enters the cross-fitted scorer (:mod:`gnn.ensemble`) as a second input to a two-weight
logistic stacker over out-of-fold scores, and only on graphs without coordination relations
(imported static graphs), like the other static-only blocks.

Inductive: a new account's logit is the sum of its neighbours' stored weights (a neighbour that
trained nothing has weight 0), plus the intercept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from gnn.data import stored_node_rows
from ringwatch.errors import InputError

LINK_CS = (0.03, 0.1, 0.3, 1.0)
"""Inverse L2 strengths tried; the one with the best out-of-fold log-loss is kept. Reddit's folds
chose 0.1 and 0.3, Amazon's 0.1 (the quality log)."""
_FILE = "link.parquet"
_META = "link.json"


@dataclass
class LinkModel:
    """One weight per neighbour account, and an intercept.

    Attributes:
        account_ids: The accounts with a weight (sorted), ``[m]``.
        weights: Their weights, ``[m]`` (float32).
        intercept: The logit of an account linked to none of them.
        c: The inverse L2 strength it was fitted with.
    """

    account_ids: np.ndarray
    weights: np.ndarray
    intercept: float
    c: float

    @classmethod
    def fit(cls, adj: sp.csr_matrix, account_ids: np.ndarray, nodes: np.ndarray, y: np.ndarray, c: float) -> LinkModel:
        """Fit on the adjacency rows of labelled ``nodes``.

        Args:
            adj: Binary adjacency, ``[n, n]``.
            account_ids: Account id per node, sorted, ``[n]``.
            nodes: Labelled node indices, ``[k]``.
            y: Their 0/1 labels, ``[k]``.
            c: Inverse L2 strength.

        Returns:
            The model; only neighbours that some labelled row links to get a non-zero weight.
        """
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=c, solver="liblinear", max_iter=3000).fit(adj[nodes], y)
        coef = lr.coef_[0]
        used = np.flatnonzero(coef)
        return cls(account_ids[used], coef[used].astype(np.float32), float(lr.intercept_[0]), float(c))

    def logits(self, adj: sp.csr_matrix, account_ids: np.ndarray) -> np.ndarray:
        """Every account's logit, ``[n]`` (float64): its neighbours' weights summed, plus the intercept.

        Args:
            adj: The graph's binary adjacency, ``[n, n]`` (or some of its rows, ``[r, n]``: their logits).
            account_ids: Its account id per node (column), ``[n]``.
        """
        w = np.zeros(adj.shape[1], np.float64)
        if len(self.account_ids):
            nodes, k = stored_node_rows(account_ids, self.account_ids)
            w[nodes] = self.weights[k]
        return np.asarray(adj @ w, np.float64) + self.intercept

    def save(self, directory: Path) -> None:
        """Write the model beside a scorer (``link.parquet`` and ``link.json``)."""
        pl.DataFrame({"account_id": self.account_ids, "weight": self.weights}).write_parquet(directory / _FILE)
        (directory / _META).write_text(json.dumps({"intercept": self.intercept, "c": self.c}))

    @classmethod
    def load(cls, directory: Path) -> LinkModel:
        """The model saved in ``directory``.

        Raises:
            InputError: One of its two files is missing.
        """
        missing = [name for name in (_FILE, _META) if not (directory / name).is_file()]
        if missing:
            raise InputError(f"model {directory.name} uses LINK weights but {', '.join(missing)} is missing; restore the "
                             "model directory or retrain (`ringwatch train`)")
        frame = pl.read_parquet(directory / _FILE)
        meta = json.loads((directory / _META).read_text())
        return cls(frame["account_id"].to_numpy(), frame["weight"].to_numpy().astype(np.float32),
                   float(meta["intercept"]), float(meta["c"]))


def fit_link(adj: sp.csr_matrix, account_ids: np.ndarray, nodes: np.ndarray, y: np.ndarray,
             fold: np.ndarray) -> tuple[LinkModel, np.ndarray]:
    """Choose the L2 strength by out-of-fold log-loss over ``fold``, then fit on every given account.

    Args:
        adj: Binary adjacency, ``[n, n]``.
        account_ids: Account id per node, sorted, ``[n]``.
        nodes: Labelled node indices, ``[k]``.
        y: Their 0/1 labels, ``[k]``.
        fold: Fold id per labelled node (the cross-fitted scorer's member folds), ``[k]``.

    Returns:
        The model fitted on all of ``nodes``, and each node's out-of-fold logit (from the fit
        without its fold, at the chosen strength), ``[k]``.
    """
    best: tuple[float, float, np.ndarray] | None = None
    for c in LINK_CS:
        oof = np.zeros(len(nodes), np.float64)
        for f in np.unique(fold):
            held = fold == f
            oof[held] = LinkModel.fit(adj, account_ids, nodes[~held], y[~held], c).logits(adj[nodes[held]], account_ids)
        loss = float(np.mean(np.logaddexp(0.0, oof) - y * oof))  # log-loss of sigmoid(oof)
        if best is None or loss < best[0]:
            best = (loss, c, oof)
    assert best is not None
    return LinkModel.fit(adj, account_ids, nodes, y, best[1]), best[2]
