"""Explain any account's published score on demand (``ringwatch explain``).

Scoring stores reasons and top neighbours for the accounts at MEDIUM or above only; an
investigator or an appeal asks about any account, a LOW one included. This reloads the model
and snapshot behind a published score set, recomputes the scorer's input for the whole graph
(the hybrid's neighbour and label features need it) and attributes the asked accounts' scores:
TreeSHAP over every booster for the hybrid, gradient × input for the GNN alone, the relation
facts, and the neighbours that most plausibly drove the score.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np
import polars as pl

from gnn.data import GraphTensors
from gnn.device import pick_device
from gnn.reasons import top_neighbors
from gnn.score import EXPLAIN_FLOOR, Scorer
from ringwatch.errors import InputError, IntegrityError, NotFoundError
from ringwatch.types import SCORES_TABLE
from ringwatch.versions import Home, reading

MAX_ACCOUNTS = 1000
"""Most accounts one call explains (each one's TreeSHAP and neighbour scan is cheap; the graph
load is the cost, so batch them, but a whole population is what ``ringwatch score`` is for)."""


def explain_accounts(home: Home, account_ids: Sequence[str], scores: str | None = None, device: str = "auto",
                     neighbors: int = 5, features: int = 5) -> dict[str, Any]:
    """Reasons, attributions and top neighbours of ``account_ids`` under a published score set.

    Args:
        home: Storage layout.
        account_ids: Accounts to explain (any level).
        scores: Score-set version (default: current); its model and snapshot are reloaded.
        device: Torch device setting.
        neighbors: Top neighbours per account.
        features: Top attributed columns per account (by absolute contribution).

    Returns:
        ``score_set``, ``model_version``, ``snapshot_version``, ``model`` and ``accounts``: per
        account ``account_id, risk, level, ring_id, reasons, contributions`` (``feature, value,
        contribution``; positive pushes risk up) and ``top_neighbors`` (``account_id, relation,
        weight``).

    Raises:
        InputError: No account, too many, or a non-positive ``neighbors`` / ``features``.
        NotFoundError: An account the score set does not hold.
        IntegrityError: The score set does not match its snapshot.
    """
    ids = list(dict.fromkeys(str(a) for a in account_ids))
    if not ids or len(ids) > MAX_ACCOUNTS:
        raise InputError(f"give between 1 and {MAX_ACCOUNTS} account ids to explain; got {len(ids)}")
    if neighbors < 1 or features < 1:
        raise InputError(f"neighbors and features must be at least 1; got {neighbors} and {features}")
    with ExitStack() as held:  # a score's or build's prune leaves these versions alone while they are read
        version = held.enter_context(home.scores.reading(scores))
        manifest = home.scores.verify(version)
        snapshot = manifest["snapshot_version"]
        published = pl.read_parquet(home.scores.path(version) / SCORES_TABLE)
        found = published.filter(pl.col("account_id").is_in(ids))
        missing = sorted(set(ids) - set(found["account_id"].to_list()))
        if missing:
            raise NotFoundError(f"score set {version} holds no account {', '.join(missing[:5])}"
                                f"{f' (and {len(missing) - 5} more)' if len(missing) > 5 else ''}; it explains the accounts of "
                                f"snapshot {snapshot} (an account created since needs `ringwatch build` and `ringwatch score` first)")
        held.enter_context(reading(home.models.path(manifest["model_version"]), home.snapshots.path(snapshot)))
        home.models.verify(manifest["model_version"])
        home.snapshots.verify(snapshot)
        scorer = Scorer.load(home, manifest["model_version"], snapshot)
    graph = scorer.graph
    if not np.array_equal(published["account_id"].to_numpy(), graph.account_ids):
        raise IntegrityError(f"score set {version} does not list the accounts of snapshot {snapshot}")
    nodes = np.searchsorted(graph.account_ids, np.asarray(ids, dtype=graph.account_ids.dtype))
    risk = published["risk"].to_numpy()
    X: Any = None
    if scorer.hybrid is None:
        reasons, attr = _gnn_attribution(scorer, nodes, risk)
    else:  # TreeSHAP is per row: the same answer alone or among others
        raw, X = scorer.raw(pick_device(device))
        _check_recomputed(raw[nodes], published["raw_score"].to_numpy()[nodes], version)
        reasons, attr = scorer.attribute(nodes, X)
    nbrs = top_neighbors(graph.account_ids, risk, scorer.relations, nodes, k=neighbors)
    nbr_of = dict(zip(nbrs["account_id"].to_list(), nbrs["top_neighbors"].to_list()))
    names = scorer.columns
    values = scorer.values(X)
    quoted = values.rows(nodes) if values is not None else None
    out = []
    for row, node in enumerate(nodes):
        top = np.argsort(-np.abs(attr[row]), kind="stable")[:features]
        record = published.row(int(node), named=True)
        out.append({
            "account_id": record["account_id"], "risk": record["risk"], "level": record["level"], "ring_id": record["ring_id"],
            "reasons": reasons[row],
            "contributions": [{"feature": names[j],
                               "value": _value(graph, names[j], int(node), None if quoted is None else quoted[row], j),
                               "contribution": float(attr[row, j])}
                              for j in top if attr[row, j] != 0],
            "top_neighbors": json.loads(nbr_of.get(record["account_id"]) or "[]"),
        })
    return {"score_set": version, "model_version": manifest["model_version"], "snapshot_version": manifest["snapshot_version"],
            "model": "gnn" if scorer.hybrid is None else "hybrid", "accounts": out}


def _gnn_attribution(scorer: Scorer, nodes: np.ndarray, risk: np.ndarray) -> tuple[list[list[str]], np.ndarray]:
    """Gradient × input for the GNN alone, taken as scoring took it.

    Scoring attributes every account at :data:`gnn.score.EXPLAIN_FLOOR` or above in one backward
    pass (a row also carries a little of its influence on the others), so the asked accounts in
    that set are attributed within the same set and get the stored reasons; the others are
    attributed together in a second pass.
    """
    floor = scorer.calibrator.thresholds[EXPLAIN_FLOOR]
    in_set = risk[nodes] >= floor
    reasons: list[list[str]] = [[] for _ in nodes]
    attr = np.zeros((len(nodes), len(scorer.columns)), np.float32)
    stored_set = np.flatnonzero(risk >= floor)
    for part, batch, rows in ((in_set, stored_set, np.searchsorted(stored_set, nodes[in_set])),
                              (~in_set, nodes[~in_set], np.arange(int((~in_set).sum())))):
        if not part.any():
            continue
        r, a = scorer.attribute(batch, None)
        for k, row in zip(np.flatnonzero(part), rows):
            reasons[k], attr[k] = r[row], a[row]
    return reasons, attr


def _value(graph: GraphTensors, name: str, node: int, quoted: np.ndarray | None, column: int) -> float | None:
    """A column's value for an investigator: the stored account value by name (the GNN's own
    inputs are normalised), else the tree input's as reasons quote it (``quoted``: the node's row of
    :meth:`gnn.reasons.QuotedValues.rows`, a neighbour mean, max or min in the feature's own units); ``None`` where the account has none (a
    neighbour column of an account without neighbours, a missing or infinite value, a column the
    snapshot lacks) or no tree input was built."""
    if name in graph.absent:
        return None
    if name in graph.accounts.columns:
        stored = graph.accounts[name][node]
        value = float(stored) if stored is not None else float("nan")
    else:
        value = float(quoted[column]) if quoted is not None else float("nan")
    return value if np.isfinite(value) else None


def _check_recomputed(raw: np.ndarray, published: np.ndarray, version: str, atol: float = 1e-3) -> None:
    """The scores being explained must be the published ones (same model, same snapshot)."""
    gap = float(np.max(np.abs(raw.astype(np.float64) - published))) if len(raw) else 0.0
    if not gap <= atol:
        raise IntegrityError(f"recomputed raw scores differ from score set {version}'s by up to {gap:.3g} (at most {atol} "
                             f"is expected): its model or snapshot changed since; score again (`ringwatch score`)")
