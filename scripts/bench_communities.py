#!/usr/bin/env python
"""Benchmark the dense communities of ring links (``gnn.communities.ring_communities``).

Builds one connected component of ``farms`` cliques of ``size`` accounts joined by five random
links per farm (many small dense groups in one giant component: where modularity, with its
resolution limit, merges them), takes its communities with the ring stage's settings, and prints
the time and how many farms came out as exactly one community each.

    .venv/bin/python scripts/bench_communities.py                 # 200x50, 400x100, 20000x20
    .venv/bin/python scripts/bench_communities.py --shapes 400x100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnn.communities import ring_communities  # noqa: E402

DENSITY = 0.05  # gnn.rings.find_rings' split_density


def farms_graph(farms: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Distinct links ``(a, b)`` of ``farms`` cliques of ``size`` plus ``5 * farms`` random links."""
    rng = np.random.default_rng(seed)
    n = farms * size
    iu, ju = np.triu_indices(size, 1)
    offset = np.repeat(np.arange(farms) * size, len(iu))
    cross = rng.integers(0, n, (farms * 5, 2))
    a, b = np.r_[np.tile(iu, farms) + offset, cross[:, 0]], np.r_[np.tile(ju, farms) + offset, cross[:, 1]]
    keep = a != b
    key = np.unique(np.minimum(a[keep], b[keep]) * n + np.maximum(a[keep], b[keep]))
    return key // n, key % n, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["200x50", "400x100", "20000x20"],
                        help="FARMSxSIZE per run")
    args = parser.parse_args()
    for shape in args.shapes:
        farms, size = (int(v) for v in shape.split("x"))
        a, b, n = farms_graph(farms, size)
        _, comp = connected_components(sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
        t0 = time.perf_counter()
        label = ring_communities(a, b, n, DENSITY)
        seconds = time.perf_counter() - t0
        farm_label = label.reshape(farms, size)
        whole = (farm_label == farm_label[:, :1]).all(axis=1)
        alone = np.bincount(label, minlength=n)[farm_label[:, 0]] == size
        print(f"{farms:,} farms of {size} in {int(comp.max()) + 1} component(s), {len(a):,} links: "
              f"{int(label.max()) + 1:,} communities, {int((whole & alone).sum()):,} farms exactly one, {seconds:.2f} s",
              flush=True)


if __name__ == "__main__":
    main()
