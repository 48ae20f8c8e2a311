"""Human-readable reasons behind a score.

Two sources: **attribution** (gradient × input of the account's own logit with respect to its
features, so the features that pushed its score up come first) and **relations** (the
coordination facts investigators act on: lockstep partners, shared devices, templated text).
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import torch

from gnn.data import GraphTensors
from gnn.model import RingwatchGNN

_RELATION_FACTS = (
    ("coaction_degree", "acted in lockstep with {:.0f} accounts"),
    ("shared_device_degree", "shares a device with {:.0f} accounts"),
    ("same_text_degree", "posts the same text as {:.0f} accounts"),
    ("accounts_per_device_max", "uses a device seen on {:.0f} accounts"),
)


def attributions(model: RingwatchGNN, graph: GraphTensors, nodes: np.ndarray) -> np.ndarray:
    """Gradient × input of each node's logit w.r.t. its own features.

    The logits of ``nodes`` are summed before the backward pass, so a node's row also
    carries its influence on the other selected nodes; for sparse risky sets this is small.

    Shapes:
        output: ``[len(nodes), num_features]``
    """
    if len(nodes) == 0:
        return np.zeros((0, graph.x.shape[1]), np.float32)
    x = graph.x.clone().requires_grad_(True)
    logits, _ = model(x, graph.edge_index)
    logits[torch.as_tensor(nodes)].sum().backward()
    return (x.grad * x).detach()[torch.as_tensor(nodes)].numpy()


def reasons_for(graph: GraphTensors, feature_names: list[str], nodes: np.ndarray, attr: np.ndarray, top_k: int = 3,
                values: np.ndarray | None = None) -> list[list[str]]:
    """Short reasons for each of ``nodes``: relation facts first, then top attributed features.

    Args:
        graph: The scored graph.
        feature_names: Name per attribution column.
        nodes: Node indices to explain.
        attr: Attribution per node (row) and feature (column); positive pushes risk up.
        top_k: Attributed features per node.
        values: Feature values per node (all nodes) for the columns of ``attr``; default: the
            snapshot's own account columns by name.
    """
    accounts = graph.accounts
    out: list[list[str]] = []
    cols = {c: accounts[c].to_numpy() for c, _ in _RELATION_FACTS if c in accounts.columns}
    for row, node in enumerate(nodes):
        reasons = []
        for col, template in _RELATION_FACTS:
            if col in cols and cols[col][node] >= (1 if col != "accounts_per_device_max" else 6):
                reasons.append(template.format(cols[col][node]))
        order = np.argsort(-attr[row])[:top_k]
        for j in order:
            if attr[row, j] > 0:
                name = feature_names[j]
                value = accounts[name][int(node)] if values is None or name in accounts.columns else values[int(node), j]
                reasons.append(f"{name}={value:.4g}")
        out.append(reasons[: top_k + 2])
    return out


def reasons_column(n: int, nodes: np.ndarray, reasons: list[list[str]]) -> pl.Series:
    """A JSON-list string per node (``[]`` for nodes without reasons)."""
    col = np.full(n, "[]", dtype=object)
    for node, r in zip(nodes, reasons):
        col[node] = json.dumps(r)
    return pl.Series("reasons", col.tolist(), dtype=pl.String)


def top_neighbors(account_ids: np.ndarray, risk: np.ndarray, relations: dict[str, pl.DataFrame], nodes: np.ndarray,
                  k: int = 5) -> pl.DataFrame:
    """The neighbours that most plausibly drove each node's score.

    A neighbour's weight is ``log1p(edge count) × neighbour risk``, over every relation in
    both directions; the top ``k`` per node are kept.

    Returns:
        ``account_id, top_neighbors`` (JSON list of ``{account_id, relation, weight}``).
    """
    chosen = pl.DataFrame({"account_id": account_ids[nodes]})
    riskf = pl.DataFrame({"nbr": account_ids, "nbr_risk": risk})
    parts = []
    for name, table in relations.items():
        both = pl.concat([table.select(pl.col("src").alias("account_id"), pl.col("dst").alias("nbr"), "count"),
                          table.select(pl.col("dst").alias("account_id"), pl.col("src").alias("nbr"), "count")])
        parts.append(both.join(chosen, on="account_id", how="semi").with_columns(pl.lit(name).alias("relation")))
    if not parts:
        return pl.DataFrame({"account_id": chosen["account_id"], "top_neighbors": ["[]"] * chosen.height})
    edges = pl.concat(parts).join(riskf, on="nbr", how="left")
    ranked = (
        edges.with_columns((pl.col("count").cast(pl.Float64).log1p() * pl.col("nbr_risk").fill_null(0.0)).round(4).alias("weight"))
        .sort("weight", descending=True)
        .group_by("account_id", maintain_order=True)
        .head(k)
        .group_by("account_id")
        .agg(pl.struct(pl.col("nbr").alias("account_id"), "relation", "weight").alias("top"))
    )
    out = chosen.join(ranked, on="account_id", how="left")
    return out.select("account_id", pl.col("top").map_elements(
        lambda t: json.dumps(list(t) if t is not None else []), return_dtype=pl.String).alias("top_neighbors"))
