"""LINK: one weight per neighbour account, fitted on training labels; out-of-fold logits; stored and loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from gnn.hybrid import stratified_folds
from gnn.link import LINK_CS, LinkModel, fit_link
from ringwatch.errors import InputError


def _groups(seed: int = 0, users: int = 120) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Users each in two of six groups; those in group ``g0`` are abusive. Returns ``adj, ids, y`` (groups' y is 0)."""
    rng = np.random.default_rng(seed)
    n = users + 6
    ids = np.array([f"g{j}" for j in range(6)] + [f"u{i:03d}" for i in range(users)])  # sorted: g* before u*
    rows, cols = [], []
    for i in range(users):
        for g in rng.choice(6, 2, replace=False):
            rows += [6 + i, int(g)]
            cols += [int(g), 6 + i]
    adj = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n))
    adj.data[:] = 1.0
    y = np.zeros(n, np.int64)
    y[6:] = np.asarray(adj[6:, 0].todense()).ravel() > 0
    return adj, ids, y


def test_the_group_abusive_users_gather_in_gets_the_weight_and_a_new_member_scores_high() -> None:
    adj, ids, y = _groups()
    users = np.arange(6, len(ids))
    model = LinkModel.fit(adj, ids, users[:100], y[users[:100]], c=1.0)
    weights = dict(zip(model.account_ids, model.weights))
    assert set(weights) <= {f"g{j}" for j in range(6)}  # only neighbours of labelled rows get a weight
    assert max(weights, key=weights.get) == "g0"
    logits = model.logits(adj, ids)
    later = users[100:]  # unlabelled: scored from the groups they joined
    assert logits[later][y[later] == 1].min() > logits[later][y[later] == 0].max()
    # a graph in another node order gives each account the same logit
    order = np.random.default_rng(1).permutation(len(ids))
    moved = adj[order][:, order]
    np.testing.assert_allclose(model.logits(moved, ids[order]), logits[order], rtol=1e-6)
    # an account linked to no weighted neighbour gets the intercept
    alone = sp.csr_matrix((1, len(ids)), dtype=np.float32)
    assert model.logits(alone, ids)[0] == pytest.approx(model.intercept)


def test_out_of_fold_logits_come_from_the_fit_without_the_fold() -> None:
    adj, ids, y = _groups(seed=2)
    nodes = np.arange(6, len(ids))
    fold = stratified_folds(y[nodes], 3, seed=0)
    model, oof = fit_link(adj, ids, nodes, y[nodes], fold)
    assert model.c in LINK_CS and oof.shape == (len(nodes),)
    held = fold == 1
    alone = LinkModel.fit(adj, ids, nodes[~held], y[nodes][~held], model.c)
    np.testing.assert_allclose(oof[held], alone.logits(adj[nodes[held]], ids), rtol=1e-6)
    assert not np.allclose(oof, model.logits(adj[nodes], ids))  # the full fit saw every row


def test_a_saved_model_loads_back_and_a_missing_file_is_an_error(tmp_path: Path) -> None:
    adj, ids, y = _groups()
    model = LinkModel.fit(adj, ids, np.arange(6, 80), y[6:80], c=0.3)
    model.save(tmp_path)
    back = LinkModel.load(tmp_path)
    np.testing.assert_array_equal(back.logits(adj, ids), model.logits(adj, ids))
    assert back.c == 0.3
    (tmp_path / "link.json").unlink()
    with pytest.raises(InputError, match="link.json is missing"):
        LinkModel.load(tmp_path)
