"""The cross-fitted hybrid: members over folds, out-of-fold scores, the registry, the size rule (its leakage test is
beside the one hybrid's in test_hybrid.py)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gnn import ensemble
from gnn.benchmark import run_split, split_stratified
from gnn.data import load_graph
from gnn.ensemble import ENSEMBLE_FILE, LINK_COLUMN, HybridEnsemble, fit_ensemble, fit_hybrid_scorer, members_for
from gnn.explain import explain_accounts
from gnn.hybrid import HYBRID_FILE, FeatureSet, HybridModel, oof_gnn
from gnn.score import score
from gnn.train import TrainConfig, label_index, load_hybrid, load_model, train
from graphs.import_static import StaticGraph, account_ids, publish_static
from ringwatch.errors import InputError
from ringwatch.types import SCORES_TABLE
from ringwatch.versions import Home
from tests.gnn.tiny import RING, publish_tiny, tiny_labels

FAST = TrainConfig(hidden=8, epochs=30, min_epochs=5, patience=5, seed=3, device="cpu", trees=30, gnn_folds=2, cross_fit=3)


def _labelled(tmp_path: Path) -> tuple[Home, np.ndarray, np.ndarray]:
    home = Home(tmp_path / "home")
    publish_tiny(home)
    graph, _ = load_graph(home.snapshots.path())
    nodes, y = label_index(graph, tiny_labels())
    return home, nodes, y


def test_each_member_trains_on_the_other_folds_and_scores_its_own_out_of_fold(tmp_path: Path) -> None:
    home, nodes, y = _labelled(tmp_path)
    graph, stats = load_graph(home.snapshots.path())
    fs = FeatureSet.of(graph, stats.names)
    ens, oof = fit_ensemble(graph, stats.names, nodes, y, FAST, fs=fs)
    assert len(ens.members) == 3 and oof.shape == (len(nodes),)
    labelled = set(graph.account_ids[nodes])
    held_out_by = {}
    for k, member in enumerate(ens.members):
        trained_on = set(member.train_labels["account_id"])
        assert trained_on < labelled
        for a in labelled - trained_on:
            held_out_by.setdefault(a, []).append(k)
    assert sorted(held_out_by) == sorted(labelled) and all(len(v) == 1 for v in held_out_by.values())  # one fold each
    # an account's out-of-fold score is the margin of the one member that never saw it, as deployed
    inputs, _ = ens.features(graph, fs)
    for i, node in enumerate(nodes):
        k = held_out_by[graph.account_ids[node]][0]
        assert oof[i] == pytest.approx(float(ens.members[k].margin(inputs[k], np.array([node]))[0]), abs=1e-5)
    # the score is the members' mean, and the same seed trains the same ensemble
    np.testing.assert_allclose(ens.margin(inputs), np.mean([m.margin(X) for m, X in zip(ens.members, inputs)], axis=0),
                               rtol=1e-6)
    again, oof_again = fit_ensemble(graph, stats.names, nodes, y, FAST, fs=fs)
    np.testing.assert_array_equal(oof, oof_again)


def test_a_trained_ensemble_is_stored_scored_and_explained(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    publish_tiny(home)
    manifest = train(home, tiny_labels(), FAST)
    # validated on the half of the validation accounts no member saw; no metric on training labels
    n_val = manifest["metrics"]["validation"]["n"]
    assert manifest["metrics"]["members"] == 3 and 0 < n_val < tiny_labels().height / 3
    assert "train" not in manifest["metrics"]
    d = home.models.path()
    assert (d / ENSEMBLE_FILE).is_file() and not (d / HYBRID_FILE).exists()
    model = load_hybrid(d, load_model(d)[0])
    assert isinstance(model, HybridEnsemble) and len(model.members) == 3
    assert model.stack is None  # LINK is stacked on graphs without coordination relations only
    assert len({id(m.spectral) for m in model.members}) == 1  # one basis: the shared blocks are built once
    graph, _ = load_graph(home.snapshots.path(), load_model(d)[1])
    trained = pl.concat([m.train_labels for m in model.members]).unique()
    assert trained.height == tiny_labels().height - n_val  # each training account in all but one member
    bad = set(trained.filter(pl.col("label") == 1)["account_id"])
    assert bad and set(graph.account_ids[model.known_abusive(graph)]) == bad  # the training bans seed rings
    out = score(home)
    assert out["model"] == "hybrid"
    table = pl.read_parquet(home.scores.path() / SCORES_TABLE)
    raw, _ = model.raw(graph)
    np.testing.assert_allclose(table.sort("account_id")["raw_score"].to_numpy(), raw, rtol=1e-5)
    ring_member = RING[6]  # unlabelled
    found = explain_accounts(home, [ring_member], features=3)["accounts"][0]
    assert found["reasons"] and len(found["contributions"]) == 3
    shutil.rmtree(d / "member-1")
    with pytest.raises(InputError, match="member 1"):
        load_hybrid(d, load_model(d)[0])


def test_large_graphs_and_scarce_labels_get_one_hybrid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert members_for(FAST, 10) == 3 and members_for(replace(FAST, cross_fit=1), 10) == 1
    assert members_for(FAST, ensemble.MAX_CROSS_FIT_UP_TO + 1) == 1
    home, nodes, y = _labelled(tmp_path)
    graph, stats = load_graph(home.snapshots.path())
    monkeypatch.setattr(ensemble, "MAX_CROSS_FIT_UP_TO", graph.num_nodes - 1)
    fit = fit_hybrid_scorer(graph, stats.names, nodes[:30], y[:30], nodes[30:], y[30:], FAST)
    assert isinstance(fit.model, HybridModel) and fit.raw.shape == (graph.num_nodes,)
    np.testing.assert_array_equal(fit.held_out, nodes[30:])  # one hybrid is calibrated on all its validation accounts
    monkeypatch.undo()
    # one hybrid never takes GNN scores without their out-of-fold GNNs (a training row's block would carry its label)
    one = replace(FAST, cross_fit=1)
    no_folds = oof_gnn(graph, nodes[:30], y[:30], nodes[30:], y[30:], replace(one, gnn_folds=0))
    given = fit_hybrid_scorer(graph, stats.names, nodes[:30], y[:30], nodes[30:], y[30:], one, gnn_scores=no_folds)
    own = fit_hybrid_scorer(graph, stats.names, nodes[:30], y[:30], nodes[30:], y[30:], one)
    assert isinstance(given.model, HybridModel) and given.model.metrics["gnn_folds"] == 2
    np.testing.assert_array_equal(given.raw, own.raw)
    # one abusive training label and two validation ones: one of those joins the members' pool, so two
    # members at most, each stopped on a fold with one of them; the other half of the validation accounts
    # trains no member and is scored as deployed, for the calibrator
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    tr, va = np.concatenate([neg[:20], pos[:1]]), np.concatenate([neg[20:], pos[1:3]])
    fit = fit_hybrid_scorer(graph, stats.names, nodes[tr], y[tr], nodes[va], y[va], replace(FAST, cross_fit=5))
    model = fit.model
    assert isinstance(model, HybridEnsemble) and len(model.members) == 2 and fit.raw.shape == (graph.num_nodes,)
    trained = set(pl.concat([m.train_labels for m in model.members])["account_id"])
    held = set(graph.account_ids[fit.held_out])
    assert held < set(graph.account_ids[nodes[va]]) and len(held) in (len(va) // 2, len(va) - len(va) // 2)
    assert fit.y_held_out.tolist().count(1) == 1 and not held & trained
    assert trained == set(graph.account_ids[nodes[np.concatenate([tr, va])]]) - held
    inputs, _ = model.features(graph)
    np.testing.assert_allclose(fit.raw[fit.held_out], model.margin(inputs, fit.held_out), rtol=1e-5)
    # the calibrator also reads each member-training account once, by its out-of-fold score (the member
    # that never trained on it: test_each_member_trains_on_the_other_folds_...), never a held-out one twice
    assert len(fit.oof) == len(trained) and fit.y_oof.tolist().count(1) == 2
    # a validation set with one label of a class cannot be halved: one hybrid, calibrated on all of it
    va1 = np.concatenate([neg[20:], pos[1:2]])
    single = fit_hybrid_scorer(graph, stats.names, nodes[tr], y[tr], nodes[va1], y[va1], replace(FAST, cross_fit=5))
    assert isinstance(single.model, HybridModel) and len(single.oof) == len(single.y_oof) == 0
    np.testing.assert_array_equal(single.held_out, nodes[va1])
    two = np.concatenate([neg, pos[:2]])
    with pytest.raises(InputError, match="at least 2 members"):
        fit_ensemble(graph, stats.names, nodes, y, replace(FAST, cross_fit=1))
    with pytest.raises(InputError, match="need at least 5 abusive"):
        fit_ensemble(graph, stats.names, nodes[two], y[two], replace(FAST, cross_fit=5))



def _groups_graph(seed: int = 0, users: int = 240, groups: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Users in three groups each, a group per node too; a user is abusive where it joined group 0,
    with a little noise; its features are noise. Groups are unlabelled (``-1``): ``x, edges, y``."""
    rng = np.random.default_rng(seed)
    n = groups + users
    edges = np.array([(g, groups + u) for u in range(users) for g in rng.choice(groups, 3, replace=False)])
    joined = np.zeros(users, bool)
    joined[edges[edges[:, 0] == 0, 1] - groups] = True
    y = np.concatenate([np.full(groups, -1), (joined ^ (rng.random(users) < 0.03)).astype(np.int64)])
    return rng.normal(size=(n, 3)).astype(np.float32), edges, y


def test_link_is_stacked_on_a_static_graph_stored_scored_and_explained(tmp_path: Path) -> None:
    x, edges, y = _groups_graph()
    home = Home(tmp_path / "home")
    _, labels = publish_static(home, StaticGraph(x, edges, y, relation="member"))
    train(home, labels, FAST)
    d = home.models.path()
    model = load_hybrid(d, load_model(d)[0])
    assert isinstance(model, HybridEnsemble) and model.stack is not None
    assert model.stack.a > 0 and model.stack.b > 0 and (d / "link.parquet").is_file()
    assert model.names[-1] == LINK_COLUMN
    graph, _ = load_graph(home.snapshots.path(), load_model(d)[1])
    inputs, fs = model.features(graph)
    members = np.mean([m.margin(X[:, : len(m.names)]) for m, X in zip(model.members, inputs)], axis=0)
    link = model.stack.link.logits(fs.adj, graph.account_ids)
    np.testing.assert_allclose(model.margin(inputs), model.stack.a * members + model.stack.b * link, rtol=1e-4, atol=1e-4)
    # the contributions add up to the stacked log-odds, up to one constant (the members' biases, LINK's baseline)
    rows = np.arange(graph.num_nodes)
    gap = model.margin(inputs) - model.contributions(inputs, rows).sum(axis=1)
    assert np.ptp(gap) < 1e-3
    out = score(home)
    table = pl.read_parquet(home.scores.path() / SCORES_TABLE).sort("account_id")
    np.testing.assert_allclose(table["raw_score"].to_numpy(), model.margin(inputs), rtol=1e-5)
    assert out["model"] == "hybrid"
    # an unlabelled account's explanation can name LINK: a user of group 0 is explained by the groups it joined
    member = account_ids(len(x))[edges[edges[:, 0] == 0, 1][0]]
    found = explain_accounts(home, [member], features=len(model.names))["accounts"][0]
    assert LINK_COLUMN in [c["feature"] for c in found["contributions"]]
    # turned off, or on an event-log graph (tested above: the tiny snapshot co-acts), no stack
    train(home, labels, replace(FAST, link=False))
    assert load_hybrid(home.models.path(), load_model(home.models.path())[0]).stack is None


def test_test_labels_never_reach_the_link_stack(tmp_path: Path) -> None:
    """Leakage, with LINK stacked: flipping every test label leaves the test scores and risk unchanged."""
    x, edges, y_all = _groups_graph(seed=1)
    home = Home(tmp_path / "home")
    _, labels = publish_static(home, StaticGraph(x, edges, y_all, relation="member"))
    graph, stats = load_graph(home.snapshots.path())
    nodes, y = label_index(graph, labels)
    tr, va, te = split_stratified(y, seed=0)
    fs = FeatureSet.of(graph, stats.names)
    runs = []
    for flip in (False, True):
        yy = y.copy()
        if flip:
            yy[te] = 1 - yy[te]
        runs.append(run_split(graph, fs, stats.names, nodes, yy, tr, va, te, FAST, models=("hybrid",)))
    (_, scores, extra), (_, scores2, extra2) = runs
    np.testing.assert_array_equal(scores["hybrid"], scores2["hybrid"])
    np.testing.assert_array_equal(extra["risk"], extra2["risk"])
    assert extra["link_stack"]["b"] > 0 and extra["link_stack"] == extra2["link_stack"]  # reported with the split
    # and the stack was there to be tested: the same split's scorer carries LINK
    fit = fit_hybrid_scorer(graph, stats.names, nodes[tr], y[tr], nodes[va], y[va], FAST, fs=fs)
    assert isinstance(fit.model, HybridEnsemble) and fit.model.stack is not None
    np.testing.assert_allclose(fit.raw[nodes[te]], scores["hybrid"], rtol=1e-6)
