#!/usr/bin/env python
"""Where YelpChi's remaining error is, and what AUROC is left if one part of it stays.

YelpChi's R-U-R relation joins the reviews of one user, so its connected components are the
users. Per seed of the README's protocol (stratified 40/20/40, the same splits and models as
``ringwatch evaluate --dataset yelpchi``) this prints, for the shipped scorer and the best tree
baseline, the test rows split three ways:

* **known user, abusive review among benign ones** ("hidden"): an abusive test review whose
  user's training reviews are all benign. Its label share says benign, and inside mixed users
  no feature separates the abusive reviews from the benign ones (printed: the pairwise AUROC of
  each feature within those users). Its cost is the part of ``1 - AUROC`` these rows carry (ties
  count half), and ``1 - cost`` is the AUROC a scorer would reach if it ranked every other test
  row perfectly and these stayed where they are (the *ceiling*, if they stay at chance);
* **new user**: a test review whose user has no training review (a user-level decision made
  from features alone);
* **known user**: every other test review (the hidden ones left out).

    .venv/bin/python scripts/bench_yelpchi_users.py [--seeds 5] [--datasets ../shared/datasets]

About 40 s per seed on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnn.benchmark import EVAL_CONFIG, load_static, run_split  # noqa: E402
from gnn.evaluate import ranking_metrics  # noqa: E402
from gnn.hybrid import FeatureSet  # noqa: E402

MODELS = ("xgb_graph_labels", "hybrid")


def within_user_separation(x: np.ndarray, y: np.ndarray, user: np.ndarray) -> np.ndarray:
    """Per feature, the share of (abusive, benign) review pairs of one mixed user in which the
    abusive review has the larger value (ties count half): 0.5 is no separation.

    Shapes:
        x: ``[num_reviews, num_features]``; y, user: ``[num_reviews]``. Returns ``[num_features]``.
    """
    pos = np.bincount(user, weights=y, minlength=user.max() + 1)
    size = np.bincount(user)
    wins, pairs = np.zeros(x.shape[1]), 0
    for u in np.flatnonzero((pos > 0) & (pos < size)):
        rows = np.flatnonzero(user == u)
        a, b = x[rows[y[rows] == 1]], x[rows[y[rows] == 0]]
        diff = a[:, None, :] - b[None, :, :]
        wins += (diff > 0).sum((0, 1)) + 0.5 * (diff == 0).sum((0, 1))
        pairs += len(a) * len(b)
    return wins / max(pairs, 1)


def buckets(y: np.ndarray, s: np.ndarray, user: np.ndarray, tr: np.ndarray, te: np.ndarray) -> dict[str, float]:
    """The split of one model's test error by user (see the module docstring)."""
    n_users = user.max() + 1
    seen = np.bincount(user[tr], minlength=n_users)
    seen_pos = np.bincount(user[tr], weights=y[tr], minlength=n_users)
    u, yt = user[te], y[te]
    known = seen[u] > 0
    hidden = known & (seen_pos[u] == 0) & (yt == 1)
    neg = np.sort(s[yt == 0])
    right = np.searchsorted(neg, s, side="right")
    above = len(neg) - right + 0.5 * (right - np.searchsorted(neg, s, side="left"))  # benign rows above each row, ties half
    cost = above[hidden].sum() / (len(neg) * yt.sum())
    new, rest = ~known, known & ~hidden
    m_new = ranking_metrics(yt[new], s[new])
    return {"hidden": int(hidden.sum()), "positives": int(yt.sum()),
            "hidden_rank": float(above[hidden].mean() / len(neg)) if hidden.any() else float("nan"),
            "cost": float(cost), "ceiling": float(1 - cost), "new_auroc": m_new["auroc"], "new_auprc": m_new["auprc"],
            "known_auroc": ranking_metrics(yt[rest], s[rest])["auroc"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--datasets", type=Path, default=None, help="where the labelled datasets are (default ../shared/datasets)")
    args = ap.parse_args()
    data = load_static("yelpchi", datasets=args.datasets)
    fs = FeatureSet.of(data.graph, data.names, EVAL_CONFIG.nbr_max)
    _, comp = connected_components(fs.adj, directed=False)
    user = comp[data.nodes]
    _, user = np.unique(user, return_inverse=True)
    y = data.y
    size = np.bincount(user)
    pos = np.bincount(user, weights=y)
    edges = fs.adj[data.nodes][:, data.nodes].nnz // 2
    print(f"YelpChi R-U-R: {len(y)} reviews, {len(size)} users (components), every user a clique: "
          f"{edges == int((size * (size - 1) // 2).sum())}; users with an abusive review {int((pos > 0).sum())}, "
          f"all abusive {int((pos == size).sum())}, mixed {int(((pos > 0) & (pos < size)).sum())}; abusive reviews "
          f"{int(y.sum())}, in all-abusive users {int(pos[pos == size].sum())}")
    x = fs.x[data.nodes]
    sep = within_user_separation(x, y, user)
    print(f"inside mixed users, per feature, P(abusive review > benign review): {sep.min():.2f}–{sep.max():.2f} "
          f"(0.5 = no separation) over {x.shape[1]} features")
    _, splits = data.splits(args.seeds)
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in MODELS}
    for seed, (tr, va, te) in enumerate(splits):
        metrics, scores, _ = run_split(data.graph, fs, data.names, data.nodes, y, tr, va, te, replace(EVAL_CONFIG, seed=seed), MODELS)
        for m in MODELS:
            b = buckets(y, scores[m].astype(np.float64), user, tr, te) | {"auroc": metrics[m]["auroc"], "auprc": metrics[m]["auprc"]}
            rows[m].append(b)
            print(f"seed {seed} {m:17s} AUROC {b['auroc']:.4f} AUPRC {b['auprc']:.4f} | hidden {b['hidden']} of {b['positives']} "
                  f"abusive, {b['hidden_rank']:.2f} of the benign above them, cost {b['cost']:.4f} -> ceiling {b['ceiling']:.4f} "
                  f"| new users {b['new_auroc']:.4f} / {b['new_auprc']:.4f} | known users, hidden left out {b['known_auroc']:.4f}", flush=True)
    for m in MODELS:
        mean = {k: float(np.mean([r[k] for r in rows[m]])) for k in rows[m][0]}
        print(f"mean {m:17s} AUROC {mean['auroc']:.4f} AUPRC {mean['auprc']:.4f} | hidden {mean['hidden']:.1f} abusive, "
              f"{mean['hidden_rank']:.2f} of the benign above them, cost {mean['cost']:.4f}, ceiling {mean['ceiling']:.4f} "
              f"(max {max(r['ceiling'] for r in rows[m]):.4f}) | new users {mean['new_auroc']:.4f} / {mean['new_auprc']:.4f} "
              f"| known users, hidden left out {mean['known_auroc']:.4f}")


if __name__ == "__main__":
    main()
