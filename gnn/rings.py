"""Rings: clusters of coordinated, risky accounts.

Accounts at or above a risk floor are linked by the coordination relations (co-action,
shared device, same text); each connected component of at least ``min_size`` accounts is a
ring. Whole-graph work uses SciPy sparse components, not per-node Python.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

COORDINATION_RELATIONS = ("coaction", "shared_device", "same_text")


def find_rings(account_ids: np.ndarray, risk: np.ndarray, relations: dict[str, pl.DataFrame],
               risk_floor: float = 0.25, min_size: int = 3,
               index_edges: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> tuple[np.ndarray, pl.DataFrame]:
    """Cluster risky accounts along coordination edges.

    Args:
        account_ids: Sorted account ids (node order).
        risk: Calibrated risk per node.
        relations: Relation tables (``src, dst, count``) by name.
        risk_floor: Accounts below this risk are not ring members.
        min_size: Smallest ring.
        index_edges: Relation → ``(src, dst)`` node indices already resolved (e.g. from the
            loaded graph); used instead of looking the ids of ``relations`` up again.

    Returns:
        ``ring_id`` per node (``None`` outside rings) and a ring table with ``ring_id, size,
        edges, density, mean_risk, ring_score, members``, best ring first.
    """
    n = len(account_ids)
    risky = risk >= risk_floor
    src_all, dst_all = [], []
    for name in COORDINATION_RELATIONS:
        if index_edges is not None:
            if name in index_edges:
                s, d = index_edges[name]
                keep = risky[s] & risky[d]
                src_all.append(s[keep])
                dst_all.append(d[keep])
            continue
        table = relations.get(name)
        if table is None or table.is_empty():
            continue
        s = np.searchsorted(account_ids, table["src"].to_numpy())
        d = np.searchsorted(account_ids, table["dst"].to_numpy())
        ok = (s < n) & (d < n)
        s, d = s[ok], d[ok]
        ok = (account_ids[s] == table["src"].to_numpy()[ok]) & (account_ids[d] == table["dst"].to_numpy()[ok])
        s, d = s[ok], d[ok]
        keep = risky[s] & risky[d]
        src_all.append(s[keep])
        dst_all.append(d[keep])
    ring_of = np.full(n, None, dtype=object)
    empty = pl.DataFrame(schema={"ring_id": pl.String, "size": pl.Int64, "edges": pl.Int64, "density": pl.Float64,
                                 "mean_risk": pl.Float64, "ring_score": pl.Float64, "members": pl.List(pl.String)})
    if not src_all or sum(len(s) for s in src_all) == 0:
        return ring_of, empty
    s = np.concatenate(src_all)
    d = np.concatenate(dst_all)
    adj = sp.coo_matrix((np.ones(len(s)), (s, d)), shape=(n, n)).tocsr()
    _, comp = connected_components(adj, directed=False)
    frame = pl.DataFrame({"node": np.arange(n), "comp": comp, "risky": risky, "risk": risk})
    edges = pl.DataFrame({"comp": comp[s], "a": s, "b": d}).unique(["a", "b"]).group_by("comp").len().rename({"len": "edges"})
    groups = (
        frame.filter(pl.col("risky")).group_by("comp")
        .agg(pl.len().alias("size"), pl.col("risk").mean().alias("mean_risk"), pl.col("node"))
        .filter(pl.col("size") >= min_size)
        .join(edges, on="comp", how="left")
        .with_columns((pl.col("edges") / (pl.col("size") * (pl.col("size") - 1) / 2)).clip(0, 1).alias("density"))
        .with_columns((pl.col("mean_risk") * (0.5 + 0.5 * pl.col("density")) * (1 - (-pl.col("size").cast(pl.Float64) / 5).exp())).alias("ring_score"))
        .sort("ring_score", descending=True)
        .with_row_index("rank", offset=1)
        .with_columns(pl.format("R{}", pl.col("rank")).alias("ring_id"))
    )
    members = []
    for ring_id, nodes in groups.select("ring_id", "node").iter_rows():
        ring_of[np.asarray(nodes)] = ring_id
        members.append(sorted(account_ids[np.asarray(nodes)].tolist()))
    table = groups.with_columns(pl.Series("members", members, dtype=pl.List(pl.String))).select(
        "ring_id", pl.col("size").cast(pl.Int64), pl.col("edges").cast(pl.Int64), "density", "mean_risk", "ring_score", "members")
    return ring_of, table
