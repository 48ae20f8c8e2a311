"""The BWGNN baseline on tiny graphs: its filters, its operator, and that it learns and transfers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import beta as beta_fn

from gnn.bwgnn import BWGNN, beta_wavelet_coefficients, bwgnn_logits, fit_bwgnn, normalized_adjacency
from gnn.data import NODE, GraphTensors, load_graph
from gnn.train import TrainConfig, label_index
from ringwatch.versions import Home
from tests.gnn.tiny import NORMAL, RING, publish_tiny, tiny_labels

FAST = TrainConfig(hidden=16, epochs=60, min_epochs=10, patience=10, device="cpu")


@pytest.mark.parametrize("order", [1, 2, 3])
def test_filters_are_the_beta_wavelets_of_the_laplacian(order: int) -> None:
    lam = np.linspace(0.0, 2.0, 9)  # the normalised Laplacian's spectrum lies in [0, 2]
    for p, coeff in enumerate(beta_wavelet_coefficients(order)):
        assert coeff.shape == (order + 1,)
        want = (lam / 2) ** p * (1 - lam / 2) ** (order - p) / beta_fn(p + 1, order + 1 - p)
        np.testing.assert_allclose(np.polynomial.polynomial.polyval(lam, coeff), want, atol=1e-12)
    # order 2 as published: 3 - 3L + 0.75L², 3L - 1.5L², 0.75L²
    np.testing.assert_allclose(np.stack(beta_wavelet_coefficients(2)), [[3, -3, 0.75], [0, 3, -1.5], [0, 0, 0.75]])


def test_operator_is_the_symmetric_normalised_union_of_relations() -> None:
    # follow 0→1 (twice), rev_follow 1→0, a self-loop 2→2 and co-action 1–2: the union is the path 0–1–2
    ei = {(NODE, "follow", NODE): torch.tensor([[0, 0, 2], [1, 1, 2]]), (NODE, "rev_follow", NODE): torch.tensor([[1], [0]]),
          (NODE, "coaction", NODE): torch.tensor([[1, 2], [2, 1]])}
    graph = GraphTensors(np.array(["a", "b", "c", "d"]), None, torch.zeros(4, 1), ei, {})  # type: ignore[arg-type]
    dense = normalized_adjacency(graph).to_dense().numpy()
    h = 1 / np.sqrt(2)
    np.testing.assert_allclose(dense, [[0, h, 0, 0], [h, 0, h, 0], [0, h, 0, 0], [0, 0, 0, 0]], atol=1e-6)


def test_the_filter_bank_is_the_wavelets_applied_in_the_spectral_domain() -> None:
    # a random graph: W_p h must equal U g_p(Λ) Uᵀ h for the normalised Laplacian L = U Λ Uᵀ
    rng = np.random.default_rng(0)
    n, order = 12, 3
    src, dst = rng.integers(0, n, 40), rng.integers(0, n, 40)
    graph = GraphTensors(np.arange(n).astype(str), None, torch.zeros(n, 1),  # type: ignore[arg-type]
                         {(NODE, "follow", NODE): torch.tensor(np.stack([src, dst]))}, {})
    adj = normalized_adjacency(graph)
    lam, U = np.linalg.eigh(np.eye(n) - adj.to_dense().double().numpy())
    h = rng.normal(size=(n, 5))
    bank = BWGNN(1, 5, order).filter_bank(torch.tensor(h, dtype=torch.float32), adj).double().numpy()
    for p in range(order + 1):
        g = (lam / 2) ** p * (1 - lam / 2) ** (order - p) / beta_fn(p + 1, order + 1 - p)
        np.testing.assert_allclose(bank[p], U @ np.diag(g) @ U.T @ h, atol=1e-4)


def _tiny(tmp_path: Path, extra: str | None = None) -> tuple[GraphTensors, np.ndarray, np.ndarray]:
    home = Home(tmp_path / "home")
    publish_tiny(home, extra_ring_member=extra)
    graph, _ = load_graph(home.snapshots.path())
    nodes, y = label_index(graph, tiny_labels())
    return graph, nodes, y


def test_it_learns_the_ring_and_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    # end to end (the tiny ring's own features separate it too; the filters are checked above)
    graph, nodes, y = _tiny(tmp_path)
    va = np.r_[np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 0)[:8]]  # two ring members, eight normal accounts
    tr = np.setdiff1d(np.arange(len(y)), va)
    model = fit_bwgnn(graph, nodes[tr], y[tr], nodes[va], y[va], FAST)
    assert isinstance(model, BWGNN) and not model.training
    logits = bwgnn_logits(model, graph)
    assert logits.shape == (graph.num_nodes,)
    pos = {a: i for i, a in enumerate(graph.account_ids)}
    unseen_ring = [pos[a] for a in RING[6:]]  # never labelled
    unseen_normal = [pos[a] for a in NORMAL[30:]]
    assert logits[unseen_ring].min() > np.quantile(logits[unseen_normal], 0.9)
    again = bwgnn_logits(fit_bwgnn(graph, nodes[tr], y[tr], nodes[va], y[va], FAST), graph)
    np.testing.assert_array_equal(logits, again)


def test_it_scores_an_account_unseen_in_training(tmp_path: Path) -> None:
    graph, nodes, y = _tiny(tmp_path / "a")
    model = fit_bwgnn(graph, nodes, y, nodes, y, FAST)
    later, _, _ = _tiny(tmp_path / "b", extra="newcomer")  # the same platform with one account more
    logits = bwgnn_logits(model, later)
    pos = {a: i for i, a in enumerate(later.account_ids)}
    assert logits.shape == (later.num_nodes,)
    assert logits[pos["newcomer"]] > np.median(logits[[pos[a] for a in NORMAL]])


@pytest.mark.parametrize("device", [
    pytest.param("cpu"),
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="no CUDA device on this machine; the CUDA path is checked where one is")),
])
def test_it_trains_on_each_device_present(tmp_path: Path, device: str) -> None:
    graph, nodes, y = _tiny(tmp_path)
    model = fit_bwgnn(graph, nodes, y, nodes, y, replace(FAST, device=device))
    assert next(model.parameters()).device.type == device
    logits = bwgnn_logits(model, graph)
    assert np.isfinite(logits).all()
    again = bwgnn_logits(fit_bwgnn(graph, nodes, y, nodes, y, replace(FAST, device=device)), graph)
    np.testing.assert_allclose(logits, again, atol=1e-4)  # the same seed: the same model (to sparse-kernel rounding)
