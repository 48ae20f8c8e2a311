"""Neighbour-aggregated account features for the tree part of the hybrid scorer.

Everything here is whole-graph sparse linear algebra (SciPy CSR, vectorised NumPy); no
per-node Python. Two kinds of features:

* **label-free** (:func:`graph_features`): degree, and the mean and max of the neighbours'
  features at 1 and 2 hops (GADBench's "neighbour-aggregated features"); and
  (:func:`spread_features`) how the neighbours spread around their mean and how the account
  stands out from them — a camouflaged account looks normal alone and odd next to its
  neighbours (or, in a ring, identical to them); and (:func:`group_features`) the mean and std
  over the account and its neighbours together, a group's profile where one relation joins
  one user's rows.
* **from training labels only** (:func:`label_features`): how many of an account's 1- and
  2-hop neighbours are *training* accounts labelled abusive, and their share among labelled
  neighbours; (:func:`link_label_features`) the same along each coordination relation alone;
  and (:func:`neighbour_share_features`) each neighbour's own share, at worst and on average.
  An account's own label never enters its own features: the graph has no self loops, 2-hop
  walks that return to the start are subtracted, and a neighbour's share leaves the account out
  (the 2-hop medians and the shares' base-rate prior are one value for every row, to which each
  training label contributes alike).

Inductive by construction: a new account's features come from its own row and its edges.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gnn.data import GraphTensors


def adjacency(graph: GraphTensors, relations: tuple[str, ...] | None = None) -> sp.csr_matrix:
    """Binary, symmetric, self-loop-free union of the relations of ``graph`` (CSR, float32).

    ``relations``: the relation names to take (default: every relation). ``rev_*`` relations
    are the transposes of stored ones and are skipped; the union is symmetrised with one
    sparse transpose-add (linear-time COO→CSR, no global sort).
    """
    n = graph.num_nodes
    parts = [ei.cpu().numpy() for et, ei in graph.edge_index.items()
             if ei.numel() and not et[1].startswith("rev_") and (relations is None or et[1] in relations)]
    if not parts:
        return sp.csr_matrix((n, n), dtype=np.float32)
    a = binary_matrix(np.concatenate(parts, axis=1), n)
    a = (a + a.T).tocsr()
    a.data[:] = 1.0
    a.sort_indices()
    return a


def binary_matrix(edges: np.ndarray, n: int) -> sp.csr_matrix:
    """Binary ``[n, n]`` CSR (float32) of ``src → dst`` edges ``[2, E]``: repeats merged, self loops dropped."""
    keep = edges[0] != edges[1]
    a = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (edges[0][keep], edges[1][keep])), shape=(n, n))
    a.data[:] = 1.0
    return a


def degree(adj: sp.csr_matrix) -> np.ndarray:
    return np.diff(adj.indptr).astype(np.float32)


def mean_agg(adj: sp.csr_matrix, x: np.ndarray, deg: np.ndarray | None = None) -> np.ndarray:
    """Mean of neighbours' rows of ``x`` (0 for isolated accounts)."""
    deg = degree(adj) if deg is None else deg
    return np.asarray(adj @ x, dtype=np.float32) / np.maximum(deg, 1.0).reshape(-1, *([1] * (x.ndim - 1)))


def max_agg(adj: sp.csr_matrix, x: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
    """Max of neighbours' rows of ``x`` (0 for isolated accounts), in row chunks to bound memory."""
    x2 = x.reshape(len(x), -1)
    n = adj.shape[0]
    out = np.zeros((n, x2.shape[1]), np.float32)
    indptr, indices = adj.indptr, adj.indices
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if len(nonempty) == 0:
        return out.reshape(x.shape)
    start = 0
    while start < len(nonempty):
        # take as many non-empty rows as fit in ``chunk`` gathered entries
        lo = indptr[nonempty[start]]
        stop = int(np.searchsorted(indptr[nonempty + 1], lo + chunk, side="right"))
        stop = max(stop, start + 1)
        rows = nonempty[start:stop]
        hi = indptr[rows[-1] + 1]
        gathered = x2[indices[lo:hi]]
        out[rows] = np.maximum.reduceat(gathered, indptr[rows] - lo, axis=0)
        start = stop
    return out.reshape(x.shape)


def graph_features(x: np.ndarray, adj: sp.csr_matrix, with_max: bool = True,
                   m1: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Label-free neighbour features: degree, 1/2-hop mean and (optionally) max of ``x``.

    ``m1``: :func:`mean_agg` of ``x``, when the caller already has it.

    Shapes:
        x: ``[n, f]``; output ``[n, 1 + 4f]`` (``1 + 2f`` without max).
    """
    f = x.shape[1]
    deg = degree(adj)
    m1 = mean_agg(adj, x, deg) if m1 is None else m1
    m2 = mean_agg(adj, m1, deg)
    blocks = [np.log1p(deg)[:, None], m1, m2]
    names = ["nbr_log_degree"] + [f"nbr1_mean_{j}" for j in range(f)] + [f"nbr2_mean_{j}" for j in range(f)]
    if with_max:
        x1 = max_agg(adj, x)
        x2 = max_agg(adj, x1)
        blocks += [x1, x2]
        names += [f"nbr1_max_{j}" for j in range(f)] + [f"nbr2_max_{j}" for j in range(f)]
    return np.concatenate(blocks, axis=1).astype(np.float32, copy=False), names


def group_features(x: np.ndarray, adj: sp.csr_matrix, m1: np.ndarray | None = None,
                   sq1: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Label-free group features: the mean and std of ``x`` over the account *and* its
    neighbours in ``adj`` (the closed neighbourhood).

    Where ``adj`` ties a row to the rest of its group (YelpChi's R-U-R links every review of one
    user to every other, so the closed neighbourhood *is* the user), this is the group's profile
    with the account's own row weighted like any other member's. Trees see the account and its
    neighbours' mean as separate columns and cannot form this weighted mix themselves. An account
    without neighbours is its own group (std 0). ``m1`` and ``sq1``: :func:`mean_agg` of ``x`` and of ``x * x`` over
    ``adj``, when the caller already has them.

    Shapes:
        x: ``[n, f]``; output ``[n, 2f]``.
    """
    f = x.shape[1]
    deg = degree(adj)
    m1 = mean_agg(adj, x, deg) if m1 is None else m1
    sq1 = mean_agg(adj, x * x, deg) if sq1 is None else sq1
    w = deg[:, None]
    mean = (x + w * m1) / (w + 1.0)
    std = np.sqrt(np.maximum((x * x + w * sq1) / (w + 1.0) - mean * mean, 0.0))
    names = [f"group_mean_{j}" for j in range(f)] + [f"group_std_{j}" for j in range(f)]
    return np.concatenate([mean, std], axis=1).astype(np.float32, copy=False), names


def spread_features(x: np.ndarray, adj: sp.csr_matrix, with_min: bool = True,
                    m1: np.ndarray | None = None, sq1: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Label-free neighbour spread: 1-hop std, the account minus its neighbours' mean, and (optionally) min.

    Isolated accounts get std 0 and their own value as the difference. ``m1`` and ``sq1``:
    :func:`mean_agg` of ``x`` and of ``x * x``, when the caller already has them.

    Shapes:
        x: ``[n, f]``; output ``[n, 3f]`` (``2f`` without min).
    """
    f = x.shape[1]
    deg = degree(adj)
    m1 = mean_agg(adj, x, deg) if m1 is None else m1
    sq1 = mean_agg(adj, x * x, deg) if sq1 is None else sq1
    std = np.sqrt(np.maximum(sq1 - m1 * m1, 0.0))
    blocks = [std, x - m1]
    names = [f"nbr1_std_{j}" for j in range(f)] + [f"vs_nbr1_{j}" for j in range(f)]
    if with_min:
        blocks.append(-max_agg(adj, -x))
        names += [f"nbr1_min_{j}" for j in range(f)]
    return np.concatenate(blocks, axis=1).astype(np.float32, copy=False), names


def _label_vectors(n: int, train_nodes: np.ndarray, train_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per node: 1 where a training label says abusive, and 1 where there is a training label."""
    pos = np.zeros(n, np.float32)
    lab = np.zeros(n, np.float32)
    pos[train_nodes] = np.asarray(train_y, np.float32)
    lab[train_nodes] = 1.0
    return pos, lab


LABEL_NAMES = ("nbr1_abusive", "nbr1_labelled", "nbr1_abusive_share", "nbr2_abusive_vs_typical",
               "nbr2_labelled_vs_typical", "nbr2_abusive_share_vs_typical")
"""The columns of :func:`label_features`."""


def label_features(adj: sp.csr_matrix, n: int, train_nodes: np.ndarray, train_y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Features from *training* labels only: abusive neighbours and their share, 1 and 2 hops.

    Two hops reach the platform's hubs, so an ordinary account's 2-hop counts and share sit
    near a platform-wide level that moves with the label density and the platform (on two
    generated platforms a benign lurker's share had medians 0.25 and 0.30, with quartiles
    ±0.02: trees trained on one flagged a tenth of the other). The 2-hop columns are therefore
    taken against the graph's median account (among those with a labelled 2-hop neighbour):
    the log counts minus their median, the share minus its median (-2 where none is labelled).
    On one graph that is a shift, which trees do not see; across graphs it is what transfers.

    Args:
        adj: Binary symmetric adjacency without self loops.
        n: Number of nodes.
        train_nodes: Node indices whose labels may be used.
        train_y: Their 0/1 labels.

    Returns:
        ``[n, 6]`` features and their names. The 1-hop share is -1 where no neighbour is
        labelled. A node's own label never enters its own row, except through the 2-hop
        medians, where it is one value among the graph's.
    """
    pos, lab = _label_vectors(n, train_nodes, train_y)
    deg = degree(adj)
    p1, l1 = adj @ pos, adj @ lab
    # 2-hop walks minus the deg(i) walks i→j→i that come back to i itself
    p2, l2 = adj @ p1 - deg * pos, adj @ l1 - deg * lab
    share1 = np.where(l1 > 0, p1 / np.maximum(l1, 1e-9), -1.0)
    some = l2 > 0
    share2 = np.where(some, p2 / np.maximum(l2, 1e-9), 0.0)
    c2, n2 = np.log1p(np.maximum(p2, 0)), np.log1p(np.maximum(l2, 0))
    if some.any():  # against the graph's typical account: a platform's base rate is not evidence
        share2 = np.where(some, share2 - np.median(share2[some]), -2.0)
        c2, n2 = c2 - np.median(c2[some]), n2 - np.median(n2[some])
    out = np.stack([np.log1p(p1), np.log1p(l1), share1, c2, n2, share2], axis=1)
    return out.astype(np.float32), list(LABEL_NAMES)


def link_label_features(links: dict[str, sp.csr_matrix], n: int, train_nodes: np.ndarray,
                        train_y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Training-label evidence along each coordination relation on its own.

    :func:`label_features` pools every relation, so one shared handset or one scripted text
    with a banned account drowns among a bot's hundreds of follows and likes; here each
    relation counts alone: how many of the account's neighbours *by that relation* are
    training accounts labelled abusive, and their share among its labelled neighbours there.

    Args:
        links: Relation name → binary symmetric adjacency without self loops.
        n: Number of nodes.
        train_nodes: Node indices whose labels may be used.
        train_y: Their 0/1 labels.

    Returns:
        ``[n, 2 * len(links)]`` features (``{relation}_abusive``, ``{relation}_abusive_share``;
        the share is -1 where no neighbour there is labelled) and their names. A node's own
        label never enters its own row.
    """
    pos, lab = _label_vectors(n, train_nodes, train_y)
    cols, names = [], []
    for rel, adj in links.items():
        p, lb = adj @ pos, adj @ lab
        cols += [np.log1p(p), np.where(lb > 0, p / np.maximum(lb, 1e-9), -1.0)]
        names += [f"{rel}_abusive", f"{rel}_abusive_share"]
    out = np.stack(cols, axis=1) if cols else np.zeros((n, 0))
    return out.astype(np.float32), names


NEIGHBOUR_SHARE_NAMES = ("nbr1_worst_abusive_share", "nbr1_mean_abusive_share")
"""The columns of :func:`neighbour_share_features`."""


def neighbour_share_features(adj: sp.csr_matrix, n: int, train_nodes: np.ndarray, train_y: np.ndarray,
                             smooth: float = 3.0, company: sp.csr_matrix | None = None) -> tuple[np.ndarray, list[str]]:
    """The company each neighbour keeps: its share of abusive *training* neighbours, at worst and on average.

    :func:`label_features` pools an account's neighbourhood; one neighbour surrounded by banned
    accounts (a worker's co-worker on a task farm, a user's worst subreddit) drowns among its
    ordinary ones. Here each neighbour ``j`` of account ``i`` gets its own share of abusive
    training neighbours, with ``i`` itself left out (else ``i``'s label would come back to
    ``i`` through every neighbour) and smoothed toward the training base rate with ``smooth``
    pseudo-neighbours (one labelled neighbour is weak evidence)::

        s_ij = (abusive_j - pos_i + smooth * prior) / (labelled_j - lab_i + smooth)

    and the account's row is the max and the mean of ``s_ij`` over its neighbours.

    Args:
        adj: Binary symmetric adjacency without self loops.
        n: Number of nodes.
        train_nodes: Node indices whose labels may be used.
        train_y: Their 0/1 labels.
        smooth: Pseudo-neighbours at the base rate added to every neighbour's count.
        company: Whose labels make up each neighbour's company, a binary ``[n, n]`` matrix whose
            row ``j`` holds ``i`` wherever ``adj``'s row ``i`` holds ``j`` (default ``adj``
            itself; the transpose of a directed ``adj``).

    Returns:
        ``[n, 2]`` features (both -1 where the account has no neighbour) and their names. A
        node's own label never enters its own row except through ``prior``, the training base
        rate, which every row shares alike.
    """
    pos, lab = _label_vectors(n, train_nodes, train_y)
    prior = float(np.mean(train_y)) if len(train_y) else 0.0
    company = adj if company is None else company
    p1, l1 = company @ pos, company @ lab
    deg = np.diff(adj.indptr)
    rows = np.repeat(np.arange(n), deg)
    cols = adj.indices
    share = (p1[cols] - pos[rows] + smooth * prior) / (l1[cols] - lab[rows] + smooth)
    out = np.full((n, 2), -1.0, np.float32)
    has = deg > 0
    starts = adj.indptr[:-1][has]
    if len(starts):
        out[has, 0] = np.maximum.reduceat(share, starts)
        out[has, 1] = np.add.reduceat(share.astype(np.float64), starts) / deg[has]
    return out, list(NEIGHBOUR_SHARE_NAMES)


ANSWERER_NAMES = ("answerer_worst_abusive_share", "answerer_mean_abusive_share", "answerers_log")
"""The columns of :func:`answerer_features`."""


def answerer_features(answers: sp.csr_matrix, n: int, train_nodes: np.ndarray,
                      train_y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Who answers the account, by the company they keep: each answerer's share of abusive
    *training* accounts among those it answered (the account left out), at worst and on average,
    and how many accounts answered it.

    On an edit log the accounts that revert an editor are patrollers, and a patroller that spends
    its time reverting editors who were later banned is a stronger witness than the revert count.
    Answer edges join a vandal to the benign accounts that undo its work, so the relation is kept
    out of the pooled neighbourhood: this is its only reader.

    Args:
        answers: Binary answerer → answered matrix, ``[n, n]``.
        n: Number of nodes.
        train_nodes: Node indices whose labels may be used.
        train_y: Their 0/1 labels.

    Returns:
        ``[n, 3]`` features and their names; the shares are -1 where no one answered the account.
        A node's own label never enters its own row (but for the shared base-rate prior of
        :func:`neighbour_share_features`).
    """
    answered_by = answers.T.tocsr()
    shares, _ = neighbour_share_features(answered_by, n, train_nodes, train_y, company=answers)
    count = np.log1p(np.diff(answered_by.indptr)).astype(np.float32)[:, None]
    return np.concatenate([shares, count], axis=1), list(ANSWERER_NAMES)


def score_features(adj: sp.csr_matrix, s: np.ndarray, prefix: str,
                   lone_missing: bool = True) -> tuple[np.ndarray, list[str]]:
    """An account's own model score next to its neighbours' mean and max at 1 and 2 hops.

    Args:
        adj: Binary symmetric adjacency, ``[n, n]``.
        s: Every node's score, ``[n]``.
        prefix: Column name prefix.
        lone_missing: An account without neighbours has NaN (missing, which the trees route on
            their own) in its three neighbour columns. ``False``: the stand-ins of models trained
            before that (the lowest score of ``s`` for the 1-hop mean and max, 0 for the 2-hop
            mean), which depended on which GNN scored the graph and on unrelated accounts.

    Returns:
        ``[n, 4]`` columns and their names.
    """
    deg = degree(adj)
    s = s.astype(np.float32)
    has = deg > 0
    m1 = mean_agg(adj, s, deg)
    x1 = max_agg(adj, s[:, None])[:, 0]
    m2 = mean_agg(adj, m1, deg)  # the adjacency is symmetric: a neighbour has neighbours, so no NaN enters
    out = np.stack([s, m1, x1, m2], axis=1)
    out[~has, 1:] = np.nan if lone_missing else [s.min(), s.min(), 0.0]
    return out, [f"{prefix}", f"{prefix}_nbr1_mean", f"{prefix}_nbr1_max", f"{prefix}_nbr2_mean"]
