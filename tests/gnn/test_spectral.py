"""Spectral coordinates: the basis, its Nyström placement of new accounts, storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from gnn import spectral
from gnn.spectral import SPECTRAL_DIMS, SpectralBasis
from ringwatch.errors import InputError


def _graph(edges: list[tuple[int, int]], n: int) -> sp.csr_matrix:
    e = np.array(edges).T
    a = sp.coo_matrix((np.ones(e.shape[1], np.float32), (e[0], e[1])), shape=(n, n))
    return ((a + a.T) > 0).astype(np.float32).tocsr()


def _two_cliques(extra: list[tuple[int, int]] = (), n: int = 12) -> sp.csr_matrix:
    """Cliques 0-4 and 5-9 joined by the bridge 4-5; nodes 10 and 11 a component of their own."""
    clique = [(i, j) for c in (range(5), range(5, 10)) for i in c for j in c if i < j]
    return _graph([*clique, (4, 5), (10, 11), *extra], n)


def _ids(n: int) -> np.ndarray:
    return np.array([f"a{i:03d}" for i in range(n)])


def test_the_first_coordinate_splits_the_two_cliques_and_other_components_get_zeros() -> None:
    adj, ids = _two_cliques(), _ids(12)
    basis = SpectralBasis.fit(adj, ids)
    assert list(basis.account_ids) == list(ids[:10])  # only the main component is embedded
    assert basis.vectors.shape == (10, SPECTRAL_DIMS) and basis.values.shape == (SPECTRAL_DIMS,)
    fiedler = basis.vectors[:, 0]
    assert np.all(np.sign(fiedler[:5]) == -np.sign(fiedler[5:]))  # the bridge is the cut
    assert 0 < basis.values[0] < 1
    s = adj[:10, :10].toarray() / np.sqrt(np.outer(adj[:10].sum(1), adj[:10].sum(1)))
    kept = int(np.sum(np.linalg.eigvalsh(s)[:-1] > spectral.MIN_EIGENVALUE))  # every non-trivial one with room to divide
    assert kept >= 1 and np.all(basis.values[:kept] > spectral.MIN_EIGENVALUE)
    assert np.all(basis.values[kept:] == 0) and np.all(basis.vectors[:, kept:] == 0)
    coords = basis.coordinates(adj, ids)
    np.testing.assert_allclose(coords[:10], basis.vectors, atol=1e-5)  # S V / lambda = V on the same graph
    assert np.all(coords[10:] == 0)


def test_a_new_account_is_placed_beside_its_neighbours() -> None:
    basis = SpectralBasis.fit(_two_cliques(), _ids(12))
    grown = _two_cliques([(12, 0), (12, 1), (12, 2)], n=14)  # account 12 joins clique 0-4; 13 has no edge
    coords = basis.coordinates(grown, _ids(14))
    assert np.sign(coords[12, 0]) == np.sign(basis.vectors[0, 0])
    assert np.all(coords[13] == 0)


def test_the_node_order_of_the_scored_graph_does_not_matter() -> None:
    adj, ids = _two_cliques(), _ids(12)
    basis = SpectralBasis.fit(adj, ids)
    perm = np.random.default_rng(0).permutation(12)
    moved = adj[perm][:, perm]
    np.testing.assert_allclose(basis.coordinates(moved, ids[perm]), basis.coordinates(adj, ids)[perm], atol=1e-6)


def test_a_graph_without_a_main_component_has_an_empty_basis() -> None:
    pairs = _graph([(2 * i, 2 * i + 1) for i in range(6)], 12)  # six components of two, as YelpChi's users
    basis = SpectralBasis.fit(pairs, _ids(12))
    assert len(basis.account_ids) == 0
    assert basis.coordinates(pairs, _ids(12)).shape == (12, SPECTRAL_DIMS)
    assert not basis.coordinates(pairs, _ids(12)).any()


def test_a_regular_graph_gets_the_same_basis_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a regular graph the uniform start vector is the trivial eigenvector itself."""
    n = 300
    ring = _graph([(i, (i + d) % n) for i in range(n) for d in (1, 2, 7)], n)  # every node has degree 6
    assert len(set(np.diff(ring.indptr))) == 1
    monkeypatch.setattr(spectral, "DENSE_UP_TO", 10)
    first, second = SpectralBasis.fit(ring, _ids(n), dims=4), SpectralBasis.fit(ring, _ids(n), dims=4)
    assert np.all(first.values > spectral.MIN_EIGENVALUE)
    np.testing.assert_array_equal(first.vectors, second.vectors)


def test_the_sparse_solver_agrees_with_the_dense_one_and_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    n, blocks = 400, np.repeat(np.arange(4), 100)  # four communities with distinct sizes of overlap
    p = np.where(blocks[:, None] == blocks[None, :], 0.12, 0.01 * (1 + blocks[:, None] + blocks[None, :]))
    upper = np.triu(rng.random((n, n)) < p, 1)
    adj = sp.csr_matrix((upper | upper.T).astype(np.float32))
    dense = SpectralBasis.fit(adj, _ids(n), dims=3)
    monkeypatch.setattr(spectral, "DENSE_UP_TO", 10)
    sparse, again = SpectralBasis.fit(adj, _ids(n), dims=3), SpectralBasis.fit(adj, _ids(n), dims=3)
    np.testing.assert_allclose(sparse.values, dense.values, atol=1e-6)
    np.testing.assert_allclose(sparse.vectors, dense.vectors, atol=1e-4)  # the same orientation too
    np.testing.assert_array_equal(sparse.vectors, again.vectors)
    communities = [np.mean(sparse.vectors[blocks == b], axis=0) for b in range(4)]
    assert min(np.linalg.norm(c1 - c2) for i, c1 in enumerate(communities) for c2 in communities[i + 1:]) > 0.05


@pytest.mark.parametrize("scattered", [False, True])
def test_a_saved_basis_loads_back(tmp_path: Path, scattered: bool) -> None:
    adj, ids = _two_cliques(), _ids(12)
    basis = SpectralBasis.fit(sp.csr_matrix(adj.shape, dtype=np.float32) if scattered else adj, ids)
    assert (len(basis.account_ids) == 0) == scattered
    assert SpectralBasis.load(tmp_path) is None
    basis.save(tmp_path)
    back = SpectralBasis.load(tmp_path)
    assert back is not None and list(back.account_ids) == list(basis.account_ids)
    np.testing.assert_array_equal(back.vectors, basis.vectors)
    np.testing.assert_array_equal(back.values, basis.values)
    np.testing.assert_array_equal(back.coordinates(adj, ids), basis.coordinates(adj, ids))


def test_a_wider_basis_keeps_its_width_and_a_missing_file_is_an_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    upper = np.triu(rng.random((80, 80)) < 0.2, 1)
    adj = sp.csr_matrix((upper | upper.T).astype(np.float32))
    wide = SpectralBasis.fit(adj, _ids(80), dims=32)
    assert wide.vectors.shape[1] == 32 and len(wide.names) == 32
    wide.save(tmp_path)
    back = SpectralBasis.load(tmp_path)
    assert back is not None and back.vectors.shape == wide.vectors.shape
    (tmp_path / "spectral.json").unlink()
    with pytest.raises(InputError, match=r"spectral.parquet has no spectral.json.*retrain"):
        SpectralBasis.load(tmp_path)
