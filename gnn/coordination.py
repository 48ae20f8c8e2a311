"""Label-free coordination score: how much lockstep and shared-infrastructure evidence an account has.

The baseline every supervised model must beat without labels (SynchroTrap's co-action
density, per account): the sum over the coordination relations (co-action, shared device,
same text) of ``log1p`` of the account's weighted degree there, each edge weighted by
``log1p`` of its count (the episodes a pair acted together, the keys it shared). A graph
without those relations, or with all of them empty (an imported static graph such as Amazon's U-P-U, whose one relation
*is* its co-action structure: users who reviewed the same product) uses every relation it has,
in both directions.
No training, no labels; higher means more coordinated.
"""

from __future__ import annotations

import numpy as np
import torch

from gnn.data import GraphTensors
from ringwatch.types import COORDINATION_RELATIONS


def coordination_score(graph: GraphTensors) -> np.ndarray:
    """The label-free coordination score of every account.

    Args:
        graph: The loaded snapshot.

    Returns:
        Score per node, ``[num_nodes]`` (float64).
    """
    chosen = [t for t, ei in graph.edge_index.items() if t[1] in COORDINATION_RELATIONS and ei.numel()]
    if not chosen:  # no lockstep relations built: the graph's own relations (both ways) are its co-action
        chosen = list(graph.edge_index)
    score = torch.zeros(graph.num_nodes, dtype=torch.float64)
    for t in chosen:
        degree = torch.zeros(graph.num_nodes, dtype=torch.float64)
        degree.index_add_(0, graph.edge_index[t][0].cpu(), graph.edge_weight[t].cpu().to(torch.float64))
        score += torch.log1p(degree)
    return score.numpy()
