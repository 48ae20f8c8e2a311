"""Turn a snapshot into tensors: account features and one edge index per relation.

Features are log-scaled (all are non-negative counts, rates or times) and standardised with
statistics computed on the accounts themselves, never on labels. The statistics are stored
with the model so scoring applies the same transform to accounts never seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch
from torch import Tensor

from ringwatch.errors import InputError
from ringwatch.types import SNAPSHOT_ACCOUNTS, SNAPSHOT_RELATIONS_DIR, UNDIRECTED_RELATIONS

EdgeType = tuple[str, str, str]
NODE = "account"
_NON_FEATURES = ("account_id", "first_ts", "last_ts")


@dataclass
class FeatureStats:
    """Per-feature mean and std of the log-scaled features."""

    names: list[str]
    mean: list[float]
    std: list[float]

    def transform(self, frame: pl.DataFrame) -> Tensor:
        """Log-scale and standardise ``frame``'s features, in ``names`` order (missing → 0).

        Shapes:
            output: ``[num_accounts, len(names)]``
        """
        cols = [frame[n].cast(pl.Float32).to_numpy() if n in frame.columns else np.zeros(frame.height, np.float32)
                for n in self.names]
        x = np.stack(cols, axis=1) if cols else np.zeros((frame.height, 0), np.float32)
        x = np.sign(x) * np.log1p(np.abs(x))
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return torch.from_numpy(np.nan_to_num(x, nan=0.0).astype(np.float32))

    @classmethod
    def fit(cls, frame: pl.DataFrame, names: list[str]) -> FeatureStats:
        """Statistics of ``frame``'s log-scaled feature columns."""
        x = np.stack([frame[n].cast(pl.Float32).to_numpy() for n in names], axis=1)
        x = np.sign(x) * np.log1p(np.abs(x))
        std = x.std(axis=0)
        return cls(names, x.mean(axis=0).tolist(), np.where(std > 1e-6, std, 1.0).tolist())


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
    """

    account_ids: np.ndarray
    accounts: pl.DataFrame
    x: Tensor
    edge_index: dict[EdgeType, Tensor]
    edge_weight: dict[EdgeType, Tensor]

    @property
    def num_nodes(self) -> int:
        return len(self.account_ids)

    def to(self, device: torch.device) -> GraphTensors:
        return GraphTensors(self.account_ids, self.accounts, self.x.to(device),
                            {k: v.to(device) for k, v in self.edge_index.items()},
                            {k: v.to(device) for k, v in self.edge_weight.items()})


def feature_names(accounts: pl.DataFrame) -> list[str]:
    """The numeric feature columns of an account table."""
    return [c for c, t in accounts.schema.items() if c not in _NON_FEATURES and t.is_numeric()]


def load_relations(snapshot: Path) -> dict[str, pl.DataFrame]:
    """All relation tables of a snapshot, by name."""
    rel_dir = Path(snapshot) / SNAPSHOT_RELATIONS_DIR
    return {p.stem: pl.read_parquet(p, columns=["src", "dst", "count"]) for p in sorted(rel_dir.glob("*.parquet"))}


def load_graph(snapshot: Path, stats: FeatureStats | None = None, relations: list[str] | None = None,
               tables: dict[str, pl.DataFrame] | None = None) -> tuple[GraphTensors, FeatureStats]:
    """Load a snapshot directory as tensors.

    Args:
        snapshot: The snapshot version directory.
        stats: Feature statistics of a trained model; fitted on this snapshot when None.
        relations: Relation names to load (default: all in the snapshot).
        tables: Relation tables already read by :func:`load_relations` (read here when None).

    Returns:
        The tensors and the feature statistics used.
    """
    path = Path(snapshot) / SNAPSHOT_ACCOUNTS
    if not path.is_file():
        raise InputError(f"{snapshot} is not a snapshot: {SNAPSHOT_ACCOUNTS} is missing")
    accounts = pl.read_parquet(path).sort("account_id")
    if accounts.is_empty():
        raise InputError(f"snapshot {snapshot} has no accounts")
    stats = stats or FeatureStats.fit(accounts, feature_names(accounts))
    ids = accounts["account_id"].to_numpy()
    index = pl.DataFrame({"account_id": accounts["account_id"], "_i": np.arange(accounts.height, dtype=np.int64)})
    edge_index: dict[EdgeType, Tensor] = {}
    edge_weight: dict[EdgeType, Tensor] = {}
    for name, table in (tables if tables is not None else load_relations(snapshot)).items():
        if relations is not None and name not in relations:
            continue
        joined = (table.join(index.rename({"account_id": "src", "_i": "s"}), on="src")
                  .join(index.rename({"account_id": "dst", "_i": "d"}), on="dst"))
        s = torch.from_numpy(joined["s"].to_numpy().copy())
        d = torch.from_numpy(joined["d"].to_numpy().copy())
        w = torch.from_numpy(np.log1p(joined["count"].to_numpy().astype(np.float32)))
        if name in UNDIRECTED_RELATIONS:
            edge_index[(NODE, name, NODE)] = torch.stack([torch.cat([s, d]), torch.cat([d, s])])
            edge_weight[(NODE, name, NODE)] = torch.cat([w, w])
        else:  # messages flow src→dst on `name`, dst→src on `rev_name`
            edge_index[(NODE, name, NODE)] = torch.stack([s, d])
            edge_index[(NODE, f"rev_{name}", NODE)] = torch.stack([d, s])
            edge_weight[(NODE, name, NODE)] = w
            edge_weight[(NODE, f"rev_{name}", NODE)] = w
    return GraphTensors(ids, accounts, stats.transform(accounts), edge_index, edge_weight), stats
