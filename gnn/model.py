"""The heterogeneous GNN that scores accounts.

Design choices, for fraud graphs in particular:

* **Relation-specific weights**: one :class:`~torch_geometric.nn.SAGEConv` per relation
  (follows, likes, co-action, shared device, ...), so a lockstep edge and a follow edge say
  different things.
* **Ego and neighbours kept apart** (H2GCN / GraphSAGE root weight): each layer concatenates
  the account's own representation with the aggregated neighbour message instead of
  averaging them, and the head sees every layer (jumping knowledge). Fraudsters camouflage by
  linking to normal accounts (heterophily); a model that blends ego into neighbours loses them.
* **Class imbalance** is handled in the loss (``pos_weight``) by :mod:`gnn.train`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv

EdgeType = tuple[str, str, str]


def _key(edge_type: EdgeType) -> str:
    return "__".join(edge_type)


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
            nn.ModuleDict({_key(et): SAGEConv(hidden, hidden, aggr="mean", root_weight=False) for et in self.edge_types})
            for _ in range(num_layers)
        )
        self.mix = nn.ModuleList(nn.Linear(2 * hidden, hidden) for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(num_layers))
        self.head = nn.Sequential(nn.Linear(hidden * (num_layers + 1), hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def embed(self, x: Tensor, edge_index_dict: dict[EdgeType, Tensor]) -> Tensor:
        """Account embeddings: every layer's representation, concatenated."""
        h = self.encoder(x)
        layers = [h]
        for convs, mix, norm in zip(self.convs, self.mix, self.norms):
            msg = torch.zeros_like(h)
            for et, ei in edge_index_dict.items():
                key = _key(et)
                if key in convs and ei.numel():
                    msg = msg + convs[key](h, ei)
            h = norm(torch.relu(mix(torch.cat([h, msg], dim=-1))))
            h = nn.functional.dropout(h, p=self.dropout, training=self.training)
            layers.append(h)
        return torch.cat(layers, dim=-1)

    def forward(self, x: Tensor, edge_index_dict: dict[EdgeType, Tensor]) -> tuple[Tensor, Tensor]:
        """Return ``(logits, embeddings)``."""
        z = self.embed(x, edge_index_dict)
        return self.head(z).squeeze(-1), z
