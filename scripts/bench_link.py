#!/usr/bin/env python
"""Benchmark LINK's training and scoring (``gnn/link.py``) at the cross-fitted scorer's size limit.

LINK is stacked beside the members on imported graphs of up to 200,000 accounts
(``gnn.ensemble.MAX_CROSS_FIT_UP_TO``); choosing its L2 strength costs ``len(LINK_CS)`` times the
folds' fits plus the final one (21 ``liblinear`` fits with five members). This times
:func:`gnn.link.fit_link` on a generated graph of that size and :meth:`gnn.link.LinkModel.logits`
over every account, and prints the strength it chose and the out-of-fold AUROC / AUPRC (a check
that it learnt the planted signal, not a quality figure).

The graph: random undirected edges; abusive accounts (``--positive-rate``) give a quarter of
their edges to a small set of hub accounts, the pattern LINK's one-weight-per-neighbour reads
(a subreddit where banned users gather). ``--labelled`` of the accounts carry labels.

    .venv/bin/python scripts/bench_link.py                       # 200,000 accounts / 2M edges
    .venv/bin/python scripts/bench_link.py --accounts 20000 --edges 200000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnn.ensemble import MAX_CROSS_FIT_UP_TO  # noqa: E402
from gnn.hybrid import stratified_folds  # noqa: E402
from gnn.link import LINK_CS, fit_link  # noqa: E402
from gnn.neighbors import binary_matrix  # noqa: E402


def planted_graph(n: int, m: int, rate: float, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """A binary symmetric adjacency ``[n, n]`` and 0/1 labels ``[n]``: abusive accounts send a
    quarter of their edges to 50 hub accounts."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(np.int64)
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    hubs = rng.choice(n, 50, replace=False)
    to_hub = (y[src] == 1) & (rng.random(m) < 0.25)
    dst[to_hub] = hubs[rng.integers(0, len(hubs), int(to_hub.sum()))]
    return binary_matrix(np.concatenate([np.stack([src, dst]), np.stack([dst, src])], axis=1), n), y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=MAX_CROSS_FIT_UP_TO)
    ap.add_argument("--edges", type=int, default=2_000_000, help="undirected edges drawn (stored both ways)")
    ap.add_argument("--labelled", type=float, default=0.6, help="share of accounts with a label (the scorer's pool)")
    ap.add_argument("--positive-rate", type=float, default=0.05)
    ap.add_argument("--folds", type=int, default=5, help="the cross-fitted scorer's members")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    adj, y_all = planted_graph(args.accounts, args.edges, args.positive_rate, args.seed)
    ids = np.arange(args.accounts, dtype=np.int64)
    rng = np.random.default_rng(args.seed + 1)
    nodes = np.sort(rng.choice(args.accounts, int(args.labelled * args.accounts), replace=False))
    y = y_all[nodes]
    fold = stratified_folds(y, args.folds, args.seed)
    t = time.perf_counter()
    link, oof = fit_link(adj, ids, nodes, y, fold)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    logits = link.logits(adj, ids)
    score_s = time.perf_counter() - t
    out = {"accounts": args.accounts, "stored_edges": int(adj.nnz), "labelled": int(len(nodes)), "positives": int(y.sum()),
           "fits": len(LINK_CS) * args.folds + 1, "fit_s": round(fit_s, 2), "logits_s": round(score_s, 3), "c": link.c,
           "weights": int(len(link.account_ids)), "oof_auroc": round(float(roc_auc_score(y, oof)), 4),
           "oof_auprc": round(float(average_precision_score(y, oof)), 4), "scored": int(len(logits))}
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
