"""Human-readable reasons behind a score.

Two sources: **attribution** (gradient × input of the account's own logit with respect to its
features, so the features that pushed its score up come first) and **relations** (the
coordination facts investigators act on: lockstep partners, shared devices, templated text).
"""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import torch

from gnn.data import SIDE_RELATIONS, FeatureStats, GraphTensors
from gnn.model import RingwatchGNN
from ringwatch.types import COORDINATION_RELATIONS, NODE_CODES, UNDIRECTED_RELATIONS

_RELATION_FACTS = (
    ("coaction_degree", "acted in lockstep with {:.0f} accounts"),
    ("shared_device_degree", "shares a device with {:.0f} accounts"),
    ("same_text_degree", "posts the same text as {:.0f} accounts"),
    ("accounts_per_device_max", "uses a device seen on {:.0f} accounts"),
)


_IN_FEATURE_UNITS = re.compile(r"^(?:(?P<nbr>nbr[12])_(?:mean|max|min)|group_mean)_(?P<feature>.+)$")
"""Tree-input columns that aggregate one feature's log-scaled, standardised values (a mean, a max
or a min over neighbours or a group), and so read back in that feature's own units."""
_LOG_COUNTS = frozenset({"nbr1_abusive", "nbr1_labelled", *(f"{rel}_abusive" for rel in COORDINATION_RELATIONS)})
"""Label-block columns that hold ``log1p`` of a count of neighbours, quoted as the count."""
_DEGREE = "nbr_log_degree"
"""The graph block's ``log1p`` of the account's neighbour count: 0 for an account without neighbours."""


class QuotedValues:
    """The tree input's values as reasons and explanations quote them (:meth:`rows`).

    A neighbour or group mean, max or min of a feature is taken over the log-scaled, standardised
    values the model reads (:class:`gnn.data.FeatureStats`): it is quoted back in the feature's
    own units (for a mean, the log-scale mean: a typical neighbour's value), not as a z-score,
    and a count of abusive or labelled neighbours as the count (the trees read its ``log1p``).
    Every other column (spreads and gaps in standard deviations, label shares, the GNN's log-odds)
    is quoted as the trees read it. A neighbour aggregate of an account without neighbours (the
    trees read a stand-in 0 there), or of a feature the snapshot lacks, is NaN (quoted ``none``).
    For a cross-fitted ensemble each value is the members' mean (only the label columns differ
    between them; a count is averaged as a count).

    Args:
        inputs: The tree input, ``[num_nodes, len(names)]``, or one per ensemble member.
        names: Name per column.
        stats: The statistics the model's own features were standardised with.
        absent: Feature names the scored snapshot lacks (:attr:`gnn.data.GraphTensors.absent`).
    """

    def __init__(self, inputs: np.ndarray | list[np.ndarray], names: list[str], stats: FeatureStats,
                 absent: tuple[str, ...] | list[str] = ()) -> None:
        self.inputs = inputs if isinstance(inputs, list) else [inputs]
        own = {name: k for k, name in enumerate(stats.names)}
        self._scale: dict[int, tuple[float, float]] = {}  # column → (mean, std) of its feature's log scale
        self._counts: set[int] = set()
        self._neighbourly: set[int] = set()  # undefined without neighbours
        self._undefined: set[int] = set()
        for j, name in enumerate(names):
            match = _IN_FEATURE_UNITS.match(name)
            if match and match["feature"] in absent:
                self._undefined.add(j)
            elif match and match["feature"] in own:
                k = own[match["feature"]]
                self._scale[j] = (stats.mean[k], stats.std[k])
                if match["nbr"]:
                    self._neighbourly.add(j)
            elif name in _LOG_COUNTS:
                self._counts.add(j)
        self._degree = names.index(_DEGREE) if _DEGREE in names else None

    def rows(self, nodes: np.ndarray) -> np.ndarray:
        """Every column's quoted value for ``nodes``, ``[len(nodes), columns]`` (float64)."""
        taken = [X[nodes].astype(np.float64) for X in self.inputs]
        out = np.mean(taken, axis=0)
        if self._counts:
            counts = sorted(self._counts)
            out[:, counts] = np.mean([np.expm1(t[:, counts]) for t in taken], axis=0)
        if self._scale:
            cols = sorted(self._scale)
            mean, std = (np.array([self._scale[c][k] for c in cols]) for k in (0, 1))
            log_scaled = out[:, cols] * std + mean
            out[:, cols] = np.sign(log_scaled) * np.expm1(np.minimum(np.abs(log_scaled), 700.0))
        if self._degree is not None and self._neighbourly:
            lone = taken[0][:, self._degree] == 0
            out[np.ix_(lone, sorted(self._neighbourly))] = np.nan
        if self._undefined:
            out[:, sorted(self._undefined)] = np.nan
        return out


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
                values: QuotedValues | None = None) -> list[list[str]]:
    """Short reasons for each of ``nodes``: relation facts first, then top attributed features.

    Args:
        graph: The scored graph.
        feature_names: Name per attribution column.
        nodes: Node indices to explain.
        attr: Attribution per node (row) and feature (column); positive pushes risk up.
        top_k: Attributed features per node.
        values: Feature values per node (all nodes) for the columns of ``attr``, as quoted;
            default: the snapshot's own account columns by name.
    """
    accounts = graph.accounts
    out: list[list[str]] = []
    cols = {c: accounts[c].to_numpy() for c, _ in _RELATION_FACTS if c in accounts.columns}
    quoted = values.rows(np.asarray(nodes, np.int64)) if values is not None else None
    for row, node in enumerate(nodes):
        reasons = []
        for col, template in _RELATION_FACTS:
            if col in cols and cols[col][node] >= (1 if col != "accounts_per_device_max" else 6):
                reasons.append(template.format(cols[col][node]))
        order = np.argsort(-attr[row])[:top_k]
        for j in order:
            if attr[row, j] > 0:
                name = feature_names[j]
                if name in graph.absent:  # the snapshot lacks the column: it read a stand-in 0, not a value
                    value = float("nan")
                else:
                    value = accounts[name][int(node)] if quoted is None or name in accounts.columns else quoted[row, j]
                reasons.append(f"{name}={value:.4g}" if value == value else f"{name}=none")  # NaN: no neighbours
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
    both directions but the :data:`gnn.data.SIDE_RELATIONS` (a patroller's answers run to the
    vandals it reverted, who did not drive its score); the top ``k`` per node are kept (ties in
    any order). Edges are found by node code, never by joining string ids.

    Args:
        account_ids: Sorted account ids (node order).
        risk: Calibrated risk per node.
        relations: Relation tables with ``count`` and node codes (:func:`gnn.data.with_node_codes`).
        nodes: Node indices to explain.
        k: Neighbours per node.

    Returns:
        ``account_id, top_neighbors`` (JSON list of ``{account_id, relation, weight}``).
    """
    chosen = np.zeros(len(account_ids), bool)
    chosen[nodes] = True
    names = [name for name in relations if name not in SIDE_RELATIONS]
    parts = [_incident(relations[name], name, chosen) for name in names]
    if not parts:
        return pl.DataFrame({"account_id": account_ids[nodes], "top_neighbors": ["[]"] * len(nodes)}, schema={
            "account_id": pl.String, "top_neighbors": pl.String})
    # one entry per neighbour and relation: a directed relation's edges both ways (A follows B, B follows A) add up
    # (an undirected one stores each pair once, so only the directed ones need the grouping)
    directed = [p for name, p in zip(names, parts) if name not in UNDIRECTED_RELATIONS]
    edges = pl.concat([p for name, p in zip(names, parts) if name in UNDIRECTED_RELATIONS] + (
        [pl.concat(directed).group_by("node", "nbr", "relation").agg(pl.col("count").sum()).select(directed[0].columns)]
        if directed else []), how="vertical_relaxed")
    ranked = (
        edges.with_columns(pl.Series("nbr_risk", risk[edges["nbr"].to_numpy()]))
        .with_columns((pl.col("count").cast(pl.Float64).log1p() * pl.col("nbr_risk")).round(4).alias("weight"))
        .sort(["weight", "nbr", "relation"], descending=[True, False, False])
        .group_by("node", maintain_order=True)
        .head(k)
    )
    ranked = ranked.with_columns(pl.Series("nbr_id", account_ids[ranked["nbr"].to_numpy()], dtype=pl.String)).group_by("node").agg(
        pl.struct(pl.col("nbr_id").alias("account_id"), "relation", "weight").alias("top"))
    out = pl.DataFrame({"node": np.asarray(nodes, np.int64), "account_id": pl.Series(account_ids[nodes], dtype=pl.String)})
    return out.join(ranked, on="node", how="left", maintain_order="left").select("account_id", pl.col("top").map_elements(
        lambda t: json.dumps(list(t)), return_dtype=pl.String).fill_null("[]").alias("top_neighbors"))  # no neighbour: []


def _incident(table: pl.DataFrame, name: str, chosen: np.ndarray) -> pl.DataFrame:
    """``node, nbr, count, relation``: the edges of ``table`` at chosen nodes, seen from each chosen end."""
    s, d = (table[c].to_numpy() for c in NODE_CODES)
    count = table["count"].to_numpy()
    frames = []
    for a, b in ((s, d), (d, s)):
        at = chosen[a]
        frames.append(pl.DataFrame({"node": a[at].astype(np.int64), "nbr": b[at].astype(np.int64), "count": count[at]}))
    return pl.concat(frames).with_columns(pl.lit(name).alias("relation"))
