"""RingwatchGNN shapes and determinism on a tiny graph."""

from __future__ import annotations

import torch

from gnn.model import RingwatchGNN

ET = [("account", "follow", "account"), ("account", "coaction", "account")]


def test_shapes() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 3)
    edges = {ET[0]: torch.tensor([[0, 1, 2], [1, 2, 3]]), ET[1]: torch.tensor([[3], [4]])}
    model = RingwatchGNN(3, ET, hidden=8, num_layers=2)
    logits, z = model(x, edges)
    assert logits.shape == (5,)
    assert z.shape == (5, 8 * 3)


def test_unknown_and_empty_relations_are_ignored() -> None:
    torch.manual_seed(0)
    model = RingwatchGNN(3, ET, hidden=8).eval()
    x = torch.randn(4, 3)
    base = {ET[0]: torch.tensor([[0], [1]])}
    with_extra = {**base, ("account", "new_rel", "account"): torch.tensor([[2], [3]]),
                  ET[1]: torch.zeros(2, 0, dtype=torch.long)}
    assert torch.allclose(model(x, base)[0], model(x, with_extra)[0])


def test_ego_path_separates_isolated_nodes() -> None:
    torch.manual_seed(0)
    model = RingwatchGNN(2, ET, hidden=8).eval()
    x = torch.tensor([[0.0, 0.0], [5.0, -5.0]])
    logits, _ = model(x, {})
    assert logits[0] != logits[1]
