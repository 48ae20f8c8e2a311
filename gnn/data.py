"""Turn a snapshot into tensors: account features and one edge index per relation.

Features are log-scaled (all are non-negative counts, rates or times) and standardised with
statistics computed on the accounts themselves, never on labels. The statistics are stored
with the model so scoring applies the same transform to accounts never seen in training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import torch
from torch import Tensor

from graphs.assemble import add_node_codes
from ringwatch.errors import InputError
from ringwatch.types import (
    ANSWERS_RELATION,
    NODE_CODES,
    SNAPSHOT_ACCOUNTS,
    SNAPSHOT_FORMAT,
    SNAPSHOT_RELATIONS_DIR,
    UNDIRECTED_RELATIONS,
)
from ringwatch.versions import MANIFEST

EdgeType = tuple[str, str, str]
NODE = "account"
_NON_FEATURES = ("account_id", "first_ts", "last_ts")
SIDE_RELATIONS = frozenset({ANSWERS_RELATION})
"""Relations loaded into :attr:`GraphTensors.side`, not :attr:`GraphTensors.edge_index`: no GNN
messages, neighbour aggregates, label shares or ring links run along them."""
NODE_ROW = "node"
"""The column :func:`with_node_rows` adds."""


@dataclass
class FeatureStats:
    """Per-feature mean and std of the log-scaled features."""

    names: list[str]
    mean: list[float]
    std: list[float]

    def transform(self, frame: pl.DataFrame) -> Tensor:
        """Log-scale and standardise ``frame``'s features, in ``names`` order. A missing or an
        infinite value reads as the training mean; a column ``frame`` lacks reads as a raw 0, as
        the build leaves out the columns of what it had nothing to count (devices, IPs, texts).

        Shapes:
            output: ``[num_accounts, len(names)]``
        """
        cols = [frame[n].cast(pl.Float32).to_numpy() if n in frame.columns else np.zeros(frame.height, np.float32)
                for n in self.names]
        x = np.stack(cols, axis=1) if cols else np.zeros((frame.height, 0), np.float32)
        out = np.abs(x)  # sign(x) * log1p(|x|), standardised, in place (float32 throughout)
        np.log1p(out, out=out)
        out *= np.sign(x)
        out -= np.asarray(self.mean, np.float32)
        out /= np.asarray(self.std, np.float32)
        return torch.from_numpy(np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0, copy=False))  # missing → the mean

    @classmethod
    def fit(cls, frame: pl.DataFrame, names: list[str]) -> FeatureStats:
        """Statistics of ``frame``'s log-scaled feature columns; missing and infinite values
        (an imported graph's) are left out of them, as :meth:`transform` puts them at the mean."""
        x = np.stack([frame[n].cast(pl.Float32).to_numpy() for n in names], axis=1)
        x = np.sign(x) * np.log1p(np.abs(x))
        finite = np.isfinite(x)
        if finite.all():
            mean, std = x.mean(axis=0), x.std(axis=0)
        else:
            x = np.where(finite, x, np.nan)
            some = finite.any(axis=0)
            mean = np.zeros(x.shape[1], np.float32)
            std = np.ones(x.shape[1], np.float32)
            mean[some] = np.nanmean(x[:, some], axis=0)
            std[some] = np.nanstd(x[:, some], axis=0)
        return cls(names, mean.tolist(), np.where(std > 1e-6, std, 1.0).tolist())


@dataclass
class GraphTensors:
    """A snapshot as tensors.

    Attributes:
        account_ids: Account id per node index (sorted).
        accounts: The snapshot's account table (same order).
        x: Standardised features, ``[num_nodes, num_features]``.
        edge_index: Relation → ``[2, num_edges]`` (both directions for undirected
            relations; ``rev_<rel>`` types for the reverse of directed ones).
        edge_weight: Relation → ``[num_edges]`` log-scaled counts.
        side: Relations kept out of message passing (:data:`SIDE_RELATIONS`): name →
            ``[2, num_edges]`` ``src → dst`` node indices, read by feature blocks only.
        absent: Feature names of the statistics the account table lacks (read as a raw 0;
            explanations quote them as ``none``).
    """

    account_ids: np.ndarray
    accounts: pl.DataFrame
    x: Tensor
    edge_index: dict[EdgeType, Tensor]
    edge_weight: dict[EdgeType, Tensor]
    side: dict[str, Tensor] = field(default_factory=dict)
    absent: tuple[str, ...] = ()

    @property
    def num_nodes(self) -> int:
        return len(self.account_ids)

    def to(self, device: torch.device) -> GraphTensors:
        return GraphTensors(self.account_ids, self.accounts, self.x.to(device),
                            {k: v.to(device) for k, v in self.edge_index.items()},
                            {k: v.to(device) for k, v in self.edge_weight.items()}, self.side, self.absent)


def with_node_rows(account_ids: np.ndarray, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``frame`` whose account is a node of a graph, with that node's row added.

    Args:
        account_ids: Account id per node (a graph's node order).
        frame: A table with an ``account_id`` column.

    Returns:
        The matching rows of ``frame``, in its order, with ``node`` (int64) appended; rows whose
        account is not in the graph are dropped.
    """
    index = pl.DataFrame({"account_id": account_ids, NODE_ROW: np.arange(len(account_ids), dtype=np.int64)})
    return frame.join(index, on="account_id", how="inner", maintain_order="left")


def stored_node_rows(account_ids: np.ndarray, stored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the accounts of a stored per-account table (a model's) sit in a graph.

    Args:
        account_ids: Account id per node (a graph's node order).
        stored: The stored table's account ids, ``[m]``.

    Returns:
        The node rows and, for each, its position in ``stored``; stored accounts that are not nodes
        of the graph are left out.
    """
    hit = with_node_rows(account_ids, pl.DataFrame({"account_id": stored, "_k": np.arange(len(stored))}))
    return hit[NODE_ROW].to_numpy(), hit["_k"].to_numpy()


def feature_names(accounts: pl.DataFrame) -> list[str]:
    """The numeric feature columns of an account table."""
    return [c for c, t in accounts.schema.items() if c not in _NON_FEATURES and t.is_numeric()]


def load_relations(snapshot: Path, ids: bool = True) -> dict[str, pl.DataFrame]:
    """All relation tables of a snapshot, by name.

    Args:
        snapshot: The snapshot version directory.
        ids: Read the string ``src``/``dst``. Without them (False), a table that stores node
            codes (:data:`ringwatch.types.NODE_CODES`) is read as ``count`` and codes only.

    Returns:
        ``src, dst, count`` per relation, plus the node codes where the snapshot stores them.
    """
    rel_dir = Path(snapshot) / SNAPSHOT_RELATIONS_DIR
    return {p.stem: pl.read_parquet(p, columns=_relation_columns(p, ids)) for p in sorted(rel_dir.glob("*.parquet"))}


def _relation_columns(path: Path, ids: bool) -> list[str]:
    schema = pl.read_parquet_schema(path)
    codes = list(NODE_CODES) if all(c in schema for c in NODE_CODES) else []
    return (["src", "dst"] if ids or not codes else []) + ["count"] + codes


def read_accounts(snapshot: Path) -> pl.DataFrame:
    """The snapshot's account table, sorted by ``account_id`` (node order).

    Raises:
        InputError: The directory is not a snapshot, or it has no accounts.
    """
    path = Path(snapshot) / SNAPSHOT_ACCOUNTS
    if not path.is_file():
        raise InputError(f"{snapshot} is not a snapshot: {SNAPSHOT_ACCOUNTS} is missing")
    accounts = pl.read_parquet(path).sort("account_id")
    if accounts.is_empty():
        raise InputError(f"snapshot {snapshot} has no accounts")
    return accounts


def with_node_codes(tables: dict[str, pl.DataFrame], account_ids: pl.Series) -> dict[str, pl.DataFrame]:
    """Relation tables that all carry node codes, keeping only edges between accounts.

    Codes stored by the build are used as they are (checked against the number of accounts);
    tables of older snapshots get them by joining their string ids to ``account_ids``.

    Args:
        tables: Relation tables from :func:`load_relations`.
        account_ids: The sorted account ids (node order).

    Raises:
        InputError: Stored codes outside ``[0, len(account_ids))``.
    """
    out = {}
    src_i, dst_i = NODE_CODES
    for name, table in tables.items():
        if src_i in table.columns and dst_i in table.columns:
            table = table.drop_nulls([src_i, dst_i])
            lo, hi = table.select(pl.min_horizontal(src_i, dst_i).min().alias("lo"),
                                  pl.max_horizontal(src_i, dst_i).max().alias("hi")).row(0)
            if table.height and not 0 <= lo <= hi < len(account_ids):
                raise InputError(f"relation {name}: node codes do not match the accounts table; rebuild the snapshot")
        else:
            table = add_node_codes(table, account_ids).drop_nulls([src_i, dst_i])
        out[name] = table
    return out


def side_relations(snapshot: Path) -> frozenset[str]:
    """The :data:`SIDE_RELATIONS` a snapshot holds as such: none where the event-log build wrote it
    before it derived them (its manifest has a ``code_version`` but no ``format``), since there a
    relation of that name is an event type's own edges (:data:`ringwatch.types.SNAPSHOT_FORMAT`)."""
    try:
        manifest = json.loads((Path(snapshot) / MANIFEST).read_text())
    except (OSError, ValueError):
        return SIDE_RELATIONS
    built_before = "code_version" in manifest and int(manifest.get("format", 1)) < SNAPSHOT_FORMAT
    return frozenset() if built_before else SIDE_RELATIONS


def load_graph(snapshot: Path, stats: FeatureStats | None = None, relations: list[str] | None = None,
               tables: dict[str, pl.DataFrame] | None = None,
               accounts: pl.DataFrame | None = None) -> tuple[GraphTensors, FeatureStats]:
    """Load a snapshot directory as tensors.

    Args:
        snapshot: The snapshot version directory.
        stats: Feature statistics of a trained model; fitted on this snapshot when None.
        relations: Relation names to load (default: all in the snapshot).
        tables: Relation tables already read by :func:`load_relations`, with or without
            node codes (:func:`with_node_codes`); read here when None.
        accounts: The account table already read by :func:`read_accounts` (read here when None).

    Returns:
        The tensors and the feature statistics used.
    """
    accounts = read_accounts(snapshot) if accounts is None else accounts
    stats = stats or FeatureStats.fit(accounts, feature_names(accounts))
    ids = accounts["account_id"].to_numpy()
    tables = tables if tables is not None else load_relations(snapshot, ids=False)
    chosen = {name: t for name, t in tables.items() if relations is None or name in relations}
    edge_index: dict[EdgeType, Tensor] = {}
    edge_weight: dict[EdgeType, Tensor] = {}
    side: dict[str, Tensor] = {}
    side_names = side_relations(snapshot)
    for name, table in with_node_codes(chosen, accounts["account_id"]).items():
        s = torch.from_numpy(table[NODE_CODES[0]].to_numpy(writable=True))
        d = torch.from_numpy(table[NODE_CODES[1]].to_numpy(writable=True))
        if name in side_names:
            side[name] = torch.stack([s, d])
            continue
        w = torch.from_numpy(np.log1p(table["count"].to_numpy().astype(np.float32)))
        if name in UNDIRECTED_RELATIONS:
            edge_index[(NODE, name, NODE)] = torch.stack([torch.cat([s, d]), torch.cat([d, s])])
            edge_weight[(NODE, name, NODE)] = torch.cat([w, w])
        else:  # messages flow src→dst on `name`, dst→src on `rev_name`
            edge_index[(NODE, name, NODE)] = torch.stack([s, d])
            edge_index[(NODE, f"rev_{name}", NODE)] = torch.stack([d, s])
            edge_weight[(NODE, name, NODE)] = w
            edge_weight[(NODE, f"rev_{name}", NODE)] = w
    absent = tuple(n for n in stats.names if n not in accounts.columns)
    return GraphTensors(ids, accounts, stats.transform(accounts), edge_index, edge_weight, side, absent), stats
