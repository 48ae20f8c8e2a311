"""The heterogeneous GNN that scores accounts.

Design choices, for fraud graphs in particular:

* **Relation-specific weights**: one mean-aggregating convolution (GraphSAGE without root
  weight, computed as a sparse matrix product) per relation
  (follows, likes, co-action, shared device, ...), so a lockstep edge and a follow edge say
  different things.
* **Ego and neighbours kept apart** (H2GCN / GraphSAGE root weight): each layer concatenates
  the account's own representation with the aggregated neighbour message instead of
  averaging them, and the head sees every layer (jumping knowledge). Fraudsters camouflage by
  linking to normal accounts (heterophily); a model that blends ego into neighbours loses them.
* **Class imbalance** is handled in the loss (``pos_weight``) by :mod:`gnn.train`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

EdgeType = tuple[str, str, str]


def _key(edge_type: EdgeType) -> str:
    return "__".join(edge_type)


def mean_operator(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Sparse CSR ``[num_nodes, num_nodes]`` operator averaging messages ``src → dst``.

    Row ``i`` holds ``1/in_degree(i)`` at each source of an edge into ``i`` (repeated edges
    count repeatedly), so ``op @ h`` is the mean of ``i``'s in-neighbours' rows of ``h`` (0 for
    none): PyG's ``SAGEConv(aggr="mean")`` aggregation as one sparse product, with no per-edge
    message tensor (memory ``O(edges)``, not ``O(edges × hidden)``). Built by SciPy's
    counting-sort COO→CSR conversion, which is linear in the number of edges.
    """
    import scipy.sparse as sp

    device = edge_index.device
    ei = edge_index.cpu().numpy()
    a = sp.csr_matrix((np.ones(ei.shape[1], np.float32), (ei[1], ei[0])), shape=(num_nodes, num_nodes))
    a.sum_duplicates()
    rows = np.diff(a.indptr)
    sums = np.add.reduceat(a.data, a.indptr[:-1][rows > 0]) if a.nnz else np.zeros(0, np.float32)
    a.data /= np.repeat(sums, rows[rows > 0])
    return csr_tensor(a, device)


def csr_tensor(a: Any, device: torch.device) -> Tensor:
    """A SciPy CSR matrix (``float32`` data) as a torch sparse CSR tensor built on ``device``
    (copying a sparse tensor to a GPU warns on torch 2.11)."""
    parts = (torch.from_numpy(v).to(device) for v in (a.indptr.astype(np.int64), a.indices.astype(np.int64), a.data))
    with warnings.catch_warnings():
        # SciPy built a valid CSR; torch 2.11 warns that its invariant checks are off even when told so
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
        return torch.sparse_csr_tensor(*parts, a.shape, device=device, check_invariants=False)


def mean_operators(edge_index_dict: dict[EdgeType, Tensor], num_nodes: int) -> dict[EdgeType, Tensor]:
    """:func:`mean_operator` of every non-empty relation; pass the result to the model to reuse it."""
    return {et: mean_operator(ei, num_nodes) for et, ei in edge_index_dict.items() if ei.numel()}


class _MeanConv(nn.Module):
    """``lin_l(mean of neighbours)``: SAGEConv without root weight (same parameter names)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.lin_l = nn.Linear(channels, channels)

    def forward(self, h: Tensor, op: Tensor) -> Tensor:
        return self.lin_l(torch.sparse.mm(op, h))


class RingwatchGNN(nn.Module):
    """Relation-aware GraphSAGE with separate ego/neighbour paths and jumping knowledge.

    Args:
        in_channels: Number of input features per account.
        edge_types: Relations the model has weights for.
        hidden: Hidden size.
        num_layers: Message-passing layers.
        dropout: Dropout rate.

    Shapes:
        - **input:** ``x`` ``[num_nodes, in_channels]``, ``edge_index_dict`` relation →
          ``[2, num_edges]``
        - **output:** logits ``[num_nodes]``, embeddings ``[num_nodes, hidden * (num_layers + 1)]``
    """

    def __init__(self, in_channels: int, edge_types: list[EdgeType], hidden: int = 64,
                 num_layers: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        self.edge_types = [tuple(e) for e in edge_types]
        self.dropout = dropout
        self.encoder = nn.Sequential(nn.Linear(in_channels, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.convs = nn.ModuleList(
            nn.ModuleDict({_key(et): _MeanConv(hidden) for et in self.edge_types})
            for _ in range(num_layers)
        )
        self.mix = nn.ModuleList(nn.Linear(2 * hidden, hidden) for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(num_layers))
        self.head = nn.Sequential(nn.Linear(hidden * (num_layers + 1), hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def embed(self, x: Tensor, edge_index_dict: dict[EdgeType, Tensor]) -> Tensor:
        """Account embeddings: every layer's representation, concatenated.

        ``edge_index_dict`` values are ``[2, E]`` edge indices or operators from
        :func:`mean_operators` (sparse; build them once when calling repeatedly).
        """
        ops = {et: (ei if ei.layout != torch.strided else mean_operator(ei, x.shape[0]))
               for et, ei in edge_index_dict.items() if _key(et) in self.convs[0] and ei.numel()} if self.convs else {}
        h = self.encoder(x)
        layers = [h]
        for convs, mix, norm in zip(self.convs, self.mix, self.norms):
            msg = torch.zeros_like(h)
            for et, op in ops.items():
                msg = msg + convs[_key(et)](h, op)
            h = norm(torch.relu(mix(torch.cat([h, msg], dim=-1))))
            h = nn.functional.dropout(h, p=self.dropout, training=self.training)
            layers.append(h)
        return torch.cat(layers, dim=-1)

    def forward(self, x: Tensor, edge_index_dict: dict[EdgeType, Tensor]) -> tuple[Tensor, Tensor]:
        """Return ``(logits, embeddings)``."""
        z = self.embed(x, edge_index_dict)
        return self.head(z).squeeze(-1), z
