"""The label-free coordination score on hand-made graphs."""

from __future__ import annotations

import math

import numpy as np
import torch

from gnn.coordination import coordination_score
from gnn.data import NODE, GraphTensors


def _graph(edges: dict[str, tuple[list[list[int]], list[float]]], n: int) -> GraphTensors:
    ei = {(NODE, r, NODE): torch.tensor(e, dtype=torch.long) for r, (e, _) in edges.items()}
    ew = {(NODE, r, NODE): torch.tensor(w, dtype=torch.float32) for r, (_, w) in edges.items()}
    return GraphTensors(np.array([f"a{i}" for i in range(n)]), None, torch.zeros(n, 1), ei, ew)  # type: ignore[arg-type]


def test_lockstep_and_shared_devices_count_and_direct_actions_do_not() -> None:
    w = math.log1p(3.0)  # a pair that co-acted in three episodes
    graph = _graph({
        "coaction": ([[0, 1, 1, 2], [1, 0, 2, 1]], [w, w, w, w]),  # 0-1, 1-2, both directions stored
        "shared_device": ([[1, 3], [3, 1]], [1.0, 1.0]),
        "follow": ([[4, 4, 4], [0, 1, 2]], [5.0, 5.0, 5.0]),  # a busy follower: not coordination
        "rev_follow": ([[0, 1, 2], [4, 4, 4]], [5.0, 5.0, 5.0]),
    }, 5)
    score = coordination_score(graph)
    assert np.allclose(score, [math.log1p(w), math.log1p(2 * w) + math.log1p(1.0), math.log1p(w), math.log1p(1.0), 0.0])
    assert score.argmax() == 1 and score[4] == 0.0


def test_a_static_graph_s_own_relation_is_its_co_action() -> None:
    # a U-P-U-style relation (users who reviewed the same product), stored as a directed pair of types
    graph = _graph({"upu": ([[0, 0, 1], [1, 2, 2]], [1.0, 1.0, 1.0]),
                    "rev_upu": ([[1, 2, 2], [0, 0, 1]], [1.0, 1.0, 1.0])}, 3)
    # both directions count: out- plus in-degree
    assert np.allclose(coordination_score(graph), [math.log1p(2.0), 2 * math.log1p(1.0), math.log1p(2.0)])


def test_empty_coordination_relations_fall_back_to_the_graph_s_own() -> None:
    graph = _graph({"coaction": ([[], []], []), "upu": ([[0], [1]], [1.0]), "rev_upu": ([[1], [0]], [1.0])}, 2)
    assert np.allclose(coordination_score(graph), [math.log1p(1.0), math.log1p(1.0)])
