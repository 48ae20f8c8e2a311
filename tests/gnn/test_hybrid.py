"""The hybrid scorer: neighbour features, leakage, the model registry, the static-graph import."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch

from gnn import rings
from gnn.benchmark import MODELS, run_split, split_stratified
from gnn.data import FeatureStats, GraphTensors, load_graph
from gnn.hybrid import (
    BLOCKS,
    GNN_COLUMNS,
    HYBRID_FILE,
    TRAIN_LABELS_FILE,
    TREES_FILE,
    FeatureSet,
    GnnScores,
    HybridModel,
    Platt,
    contributions,
    fit_hybrid,
    stratified_folds,
    tree_margin,
    view_blocks,
)
from gnn.model import mean_operator
from gnn.neighbors import (
    ANSWERER_NAMES,
    LABEL_NAMES,
    NEIGHBOUR_SHARE_NAMES,
    answerer_features,
    group_features,
    label_features,
    link_label_features,
    max_agg,
    neighbour_share_features,
    score_features,
    spread_features,
)
from gnn.score import score
from gnn.spectral import SPECTRAL_NAMES, SpectralBasis
from gnn.train import TrainConfig, label_index, load_hybrid, load_model, stratified_split, train
from graphs.import_static import StaticGraph, publish_static, read_static
from ringwatch.errors import InputError
from ringwatch.types import SCORES_TABLE
from ringwatch.versions import Home
from tests.gnn.tiny import NORMAL, RING, publish_tiny, tiny_labels

FAST = TrainConfig(hidden=8, epochs=30, min_epochs=5, patience=5, seed=3, device="cpu", trees=30, gnn_folds=2,
                   cross_fit=1)  # one hybrid: its mechanics; the ensemble has tests/gnn/test_ensemble.py


def _path_graph(n: int = 6) -> sp.csr_matrix:
    rows = np.arange(n - 1)
    a = sp.coo_matrix((np.ones(n - 1, np.float32), (rows, rows + 1)), shape=(n, n))
    return (a + a.T).tocsr()


def test_max_aggregation_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    a = sp.random(40, 40, density=0.1, random_state=1, format="csr")
    a = ((a + a.T) > 0).astype(np.float32).tocsr()
    a.setdiag(0)
    a.eliminate_zeros()
    x = rng.normal(size=(40, 3)).astype(np.float32)
    got = max_agg(a, x, chunk=7)  # tiny chunks exercise the chunking
    dense = a.toarray()
    for i in range(40):
        nbrs = np.flatnonzero(dense[i])
        want = x[nbrs].max(axis=0) if len(nbrs) else np.zeros(3)
        assert np.allclose(got[i], want)


def test_spread_features_match_brute_force() -> None:
    a = _path_graph(4)
    x = np.array([[1.0], [3.0], [5.0], [11.0]], np.float32)
    got, names = spread_features(x, a)
    assert names == ["nbr1_std_0", "vs_nbr1_0", "nbr1_min_0"]
    # node 1: neighbours 1 and 5 -> std 2, 3 - mean 3 = 0, min 1; node 0: neighbour 3 only
    assert np.allclose(got[1], [2.0, 0.0, 1.0]) and np.allclose(got[0], [0.0, -2.0, 3.0])


def test_group_features_are_the_closed_neighbourhood() -> None:
    """A clique is one user's rows: every member gets the user's mean and std; a loner its own row."""
    a = sp.coo_matrix((np.ones(6, np.float32), ([0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1])), shape=(4, 4)).tocsr()
    x = np.array([[1.0, 0.0], [2.0, 0.0], [6.0, 3.0], [7.0, -1.0]], np.float32)
    got, names = group_features(x, a)
    assert names == ["group_mean_0", "group_mean_1", "group_std_0", "group_std_1"]
    want = np.r_[x[:3].mean(0), x[:3].std(0)]
    np.testing.assert_allclose(got[:3], np.tile(want, (3, 1)), rtol=1e-5)
    np.testing.assert_allclose(got[3], [7.0, -1.0, 0.0, 0.0])
    # on a path the weights differ from the open neighbourhood's: node 1 averages 0, 1 and 2
    p = _path_graph(4)
    got, _ = group_features(x[:, :1], p)
    np.testing.assert_allclose(got[1], [x[:3, 0].mean(), x[:3, 0].std()], rtol=1e-5)
    np.testing.assert_allclose(got[0], [x[:2, 0].mean(), x[:2, 0].std()], rtol=1e-5)


def test_answerer_shares_judge_each_answerer_by_the_accounts_it_answered_without_this_one() -> None:
    """Directed: an answerer's company is who *it* answered, not who answered it; edge by edge, own label out."""
    rng = np.random.default_rng(1)
    n = 25
    e = rng.integers(0, n, size=(2, 70))
    e = e[:, (e[0] != e[1]) & (e[1] != 4)]  # no one answers node 4
    r = sp.csr_matrix((np.ones(e.shape[1], np.float32), (e[0], e[1])), shape=(n, n))
    r.data[:] = 1.0  # answerer -> answered, binary
    train_nodes = rng.choice(n, 15, replace=False)
    train_y = (rng.random(15) < 0.4).astype(np.int64)
    out, names = answerer_features(r, n, train_nodes, train_y)
    assert names == list(ANSWERER_NAMES) and out.shape == (n, 3)
    pos, lab = np.zeros(n), np.zeros(n)
    pos[train_nodes], lab[train_nodes] = train_y, 1
    prior = train_y.mean()
    dense = r.toarray() > 0
    for i in range(n):
        answerers = np.flatnonzero(dense[:, i])
        assert out[i, 2] == pytest.approx(np.log1p(len(answerers)))
        if not len(answerers):
            assert (out[i, :2] == -1).all()
            continue
        s_ji = [((pos[dense[j]].sum() - pos[i]) + 3 * prior) / ((lab[dense[j]].sum() - lab[i]) + 3) for j in answerers]
        assert out[i, :2] == pytest.approx([max(s_ji), np.mean(s_ji)], rel=1e-5)
    assert (out[4, :2] == -1).all() and out[4, 2] == 0
    # an account's own label never reaches its row: swap it with a training account's of the other class
    # (the base rate stays) that no answerer of this account answered, and the row stays the same
    checked = 0
    for k, node in enumerate(train_nodes):
        company = np.flatnonzero(dense[np.flatnonzero(dense[:, node])].any(axis=0))
        others = [m for m in range(len(train_nodes)) if train_y[m] != train_y[k] and train_nodes[m] not in company]
        if node not in company or not others:
            continue
        swapped = train_y.copy()
        swapped[[k, others[0]]] = swapped[[others[0], k]]
        np.testing.assert_array_equal(answerer_features(r, n, train_nodes, swapped)[0][node], out[node])
        checked += 1
    assert checked >= 3
    # the transpose is another relation: being answered is not answering
    assert not np.allclose(answerer_features(r.T.tocsr(), n, train_nodes, train_y)[0], out)


def test_fold_rows_take_every_gnn_column_from_the_gnn_that_never_saw_them() -> None:
    """A neighbour's score from a GNN trained on the row's own label would carry it back."""
    a = _path_graph(5)
    full = np.array([0, 1, 2, 3, 4], np.float32)
    fold_scores = np.array([10, 20, 30, 40, 50], np.float32)
    gs = GnnScores(gnn=None, platt=Platt(), full=full, folds=[(np.array([2]), fold_scores)], metrics={})  # type: ignore[arg-type]
    fitting, deployed = gs.block(a, fitting=True), gs.block(a, fitting=False)
    assert np.allclose(deployed, score_features(a, full, "gnn")[0])
    assert np.allclose(fitting[2], score_features(a, fold_scores, "gnn")[0][2])  # own score and neighbours' alike
    assert np.allclose(np.delete(fitting, 2, axis=0), np.delete(deployed, 2, axis=0))
    folds = stratified_folds(np.array([0] * 9 + [1] * 3), 3, seed=0)
    assert sorted(np.bincount(folds[9:])) == [1, 1, 1] and sorted(np.bincount(folds[:9])) == [3, 3, 3]


def test_score_features_leave_a_neighbourless_account_missing_whatever_scored_the_graph() -> None:
    """Its neighbour columns are NaN, not a stand-in taken from other accounts' scores."""
    a = sp.block_diag([_path_graph(3), sp.csr_matrix((1, 1), dtype=np.float32)]).tocsr()  # node 3 alone
    s = np.array([0.0, 1.0, 2.0, 3.0], np.float32)
    out, names = score_features(a, s, "gnn")
    assert names == ["gnn", "gnn_nbr1_mean", "gnn_nbr1_max", "gnn_nbr2_mean"]
    assert out[3, 0] == 3.0 and np.isnan(out[3, 1:]).all()
    assert out[0].tolist() == [0.0, 1.0, 1.0, 1.0]  # 0's neighbour 1 averages 0 and 2
    assert out[1].tolist() == [1.0, 1.0, 2.0, 1.0]
    shifted, _ = score_features(a, np.array([0.0, 1.0, 2.0, -50.0], np.float32), "gnn")
    np.testing.assert_array_equal(shifted[:3], out[:3])  # the lone account's score reaches no one
    assert score_features(a, s, "gnn", lone_missing=False)[0][3].tolist() == [3.0, 0.0, 0.0, 0.0]  # an older model's stand-ins


def test_mean_operator_averages_in_neighbours() -> None:
    ei = torch.tensor([[0, 1, 2, 2], [1, 2, 1, 0]])
    h = torch.tensor([[1.0], [2.0], [4.0]])
    out = torch.sparse.mm(mean_operator(ei, 3), h)
    assert out[:, 0].tolist() == [4.0, 2.5, 2.0]


def test_label_features_never_see_own_or_untrained_labels() -> None:
    """An account's own label and labels outside the training set never enter any row."""
    a = _path_graph()
    train_nodes = np.array([1, 2, 3])
    base, _ = label_features(a, 6, train_nodes, np.array([0, 1, 0]))
    flipped, _ = label_features(a, 6, train_nodes, np.array([0, 0, 0]))  # flip node 2's own label
    assert np.allclose(base[2, :3], flipped[2, :3])  # its own 1-hop columns are blind to it
    assert not np.allclose(base[1], flipped[1])  # its neighbours see it
    # 2-hop columns are taken against the graph's median: the own label moves them only as
    # much as it moves the median, as for node 5, which never sees node 2
    moved = base - flipped
    assert np.allclose(moved[2, 3:5], moved[5, 3:5])
    # node 2's 2-hop neighbours are 0 and 4 (walks through 1 and 3), never itself: none labelled
    assert base[2, 5] == flipped[2, 5] == -2.0


def test_link_label_features_count_each_relation_alone() -> None:
    """A handset shared with a banned account shows on its own column, whatever the other relations say."""
    device = sp.csr_matrix((np.ones(4, np.float32), ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(4, 4))  # 0-1-2 share handsets
    text = sp.csr_matrix((4, 4), dtype=np.float32)
    train_nodes, y = np.array([1, 2, 3]), np.array([1, 0, 1])
    out, names = link_label_features({"shared_device": device, "same_text": text}, 4, train_nodes, y)
    assert names == ["shared_device_abusive", "shared_device_abusive_share", "same_text_abusive", "same_text_abusive_share"]
    assert out[0, 0] == pytest.approx(np.log1p(1.0)) and out[0, 1] == 1.0  # its only handset mate is banned
    assert out[1, 1] == 0.0  # 1's mates: 2 (not abusive) and 0 (unlabelled); its own label is not among them
    assert out[3, 1] == -1.0 and (out[:, 3] == -1.0).all()  # no labelled neighbour there
    flipped, _ = link_label_features({"shared_device": device}, 4, train_nodes, np.array([0, 0, 1]))
    assert flipped[1, 0] == out[1, 0] and flipped[0, 0] == 0.0  # own label never in own row; the neighbour sees it
    assert link_label_features({}, 4, train_nodes, y)[0].shape == (4, 0)


def test_neighbour_shares_take_each_neighbours_company_without_the_account() -> None:
    """Max / mean over neighbours of their smoothed abusive share, the account's own label left out."""
    edges = np.array([[0, 1], [1, 2], [1, 3], [0, 4]])  # node 5 has no neighbour
    a = sp.csr_matrix((np.ones(8, np.float32), (edges.ravel(), edges[:, ::-1].ravel())), shape=(6, 6))
    train_nodes = np.array([1, 2, 3, 5])
    out, names = neighbour_share_features(a, 6, train_nodes, np.array([1, 1, 0, 0]))  # base rate 0.5
    assert names == list(NEIGHBOUR_SHARE_NAMES)
    # node 3's only neighbour, 1, has labelled neighbours 2 (abusive) and 3 itself (left out): (1 + 3·0.5) / (1 + 3)
    assert out[3] == pytest.approx([2.5 / 4, 2.5 / 4])
    # node 0: neighbour 1 keeps 2 and 3, (1 + 1.5) / (2 + 3); neighbour 4 keeps no one but 0, the prior
    assert out[0] == pytest.approx([0.5, 0.5])
    assert (out[5] == -1.0).all()
    # flip node 2's own label, and node 5's to keep the base rate: node 2's row is blind to it, node 3 sees it via 1
    flipped, _ = neighbour_share_features(a, 6, train_nodes, np.array([1, 0, 0, 1]))
    np.testing.assert_array_equal(flipped[2], out[2])
    assert flipped[3, 0] == pytest.approx(1.5 / 4)


def test_neighbour_shares_match_the_edge_by_edge_definition() -> None:
    """Max and mean differ, isolated accounts sit between others, CSR indices unsorted: the formula, edge by edge."""
    rng = np.random.default_rng(0)
    n = 30
    e = rng.integers(0, n, size=(2, 60))
    e = e[:, (e[0] != e[1]) & (e[0] != 7) & (e[1] != 7)]  # node 7 has no neighbour
    a = sp.csr_matrix((np.ones(2 * e.shape[1], np.float32), (np.r_[e[0], e[1]], np.r_[e[1], e[0]])), shape=(n, n))
    a.data[:] = 1.0
    for i in range(n):  # each row's neighbours in descending order
        a.indices[a.indptr[i]:a.indptr[i + 1]] = np.sort(a.indices[a.indptr[i]:a.indptr[i + 1]])[::-1]
    a.has_sorted_indices = False
    train_nodes = rng.choice(n, 18, replace=False)
    train_y = (rng.random(18) < 0.3).astype(np.int64)
    out, _ = neighbour_share_features(a, n, train_nodes, train_y)
    pos, lab = np.zeros(n), np.zeros(n)
    pos[train_nodes], lab[train_nodes] = train_y, 1
    prior = train_y.mean()
    dense = a.toarray() > 0
    for i in range(n):
        nbrs = np.flatnonzero(dense[i])
        if not len(nbrs):
            assert (out[i] == -1).all()
            continue
        s_ij = [((pos[dense[j]].sum() - pos[i]) + 3 * prior) / ((lab[dense[j]].sum() - lab[i]) + 3) for j in nbrs]
        assert out[i] == pytest.approx([max(s_ij), np.mean(s_ij)], rel=1e-5)
    assert (out[7] == -1).all() and (out[:, 0] > out[:, 1] + 1e-3).any()


@pytest.mark.parametrize("cross_fit", [1, 3])
def test_test_labels_never_touch_training_calibration_or_features(tmp_path: Path, cross_fit: int) -> None:
    """Leakage: flipping every test label leaves every model's test scores unchanged (one hybrid,
    and the cross-fitted ensemble over the training and validation accounts)."""
    home = Home(tmp_path / "home")
    publish_tiny(home)
    graph, stats = load_graph(home.snapshots.path())
    labels = pl.DataFrame({"account_id": RING + NORMAL, "label": [1] * len(RING) + [0] * len(NORMAL)})
    nodes, y = label_index(graph, labels)
    tr, va, te = split_stratified(y, seed=0)
    fs = FeatureSet.of(graph, stats.names)
    cfg = replace(FAST, cross_fit=cross_fit)
    _, scores, extra = run_split(graph, fs, stats.names, nodes, y, tr, va, te, cfg)
    y_flipped = y.copy()
    y_flipped[te] = 1 - y_flipped[te]
    _, scores2, extra2 = run_split(graph, fs, stats.names, nodes, y_flipped, tr, va, te, cfg)
    assert set(scores) == set(MODELS) and extra["members"] == extra2["members"] == cross_fit
    assert extra["link_stack"] is None  # an event-log graph: no LINK beside the members
    for model in MODELS:
        assert np.array_equal(scores[model], scores2[model]), model
    assert np.array_equal(extra["risk"], extra2["risk"])
    # the calibration figures are the test labels' verdict on that risk, so they alone move with the flip
    assert extra["calibration"]["brier"] == pytest.approx(float(np.mean((extra["risk"] - y[te]) ** 2)), rel=1e-5)


def test_hybrid_is_the_default_and_stores_trees_and_training_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Home(tmp_path / "home")
    publish_tiny(home)
    manifest = train(home, tiny_labels(), FAST)
    assert manifest["model"] == "RingwatchHybrid"
    d = home.models.path()
    for f in (TREES_FILE, HYBRID_FILE, TRAIN_LABELS_FILE):
        assert (d / f).is_file()
    stored = pl.read_parquet(d / TRAIN_LABELS_FILE)
    assert set(stored["account_id"]) < set(tiny_labels()["account_id"])  # validation labels are not feature inputs
    hybrid = load_hybrid(d, load_model(d)[0])
    graph, _ = load_graph(home.snapshots.path(), load_model(d)[1])
    bad = set(stored.filter(pl.col("label") == 1)["account_id"])
    assert bad and set(graph.account_ids[hybrid.known_abusive(graph)]) == bad
    seeds: list[np.ndarray] = []

    def find_rings(*args: Any, **kwargs: Any) -> Any:  # the real one, recording what seeds it
        seeds.append(kwargs["known"])
        return rings.find_rings(*args, **kwargs)

    monkeypatch.setattr("gnn.score.find_rings", find_rings)
    out = score(home)
    assert len(seeds) == 1 and set(graph.account_ids[seeds[0]]) == bad  # the training bans seed the rings
    assert out["model"] == "hybrid"
    s = pl.read_parquet(home.scores.path() / SCORES_TABLE)
    assert s["risk"].is_between(0, 1).all()
    flagged = s.filter(pl.col("level") != "LOW")
    assert flagged.height and all(json.loads(r) for r in flagged["reasons"])
    gnn = train(home, tiny_labels(), replace(FAST, model="gnn"))
    assert gnn["model"] == "RingwatchGNN" and not (home.models.path() / TREES_FILE).exists()
    assert score(home)["model"] == "gnn"


def _tiny_split(tmp_path: Path) -> tuple[GraphTensors, FeatureStats, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tiny graph published and loaded, its labelled nodes and labels, and a 75/25 split of them."""
    home = Home(tmp_path / "home")
    publish_tiny(home)
    graph, stats = load_graph(home.snapshots.path())
    nodes, y = label_index(graph, tiny_labels())
    tr, va = stratified_split(y, 0.25, seed=0)
    return graph, stats, nodes, y, tr, va


def test_only_a_graph_without_coordination_relations_gets_the_group_block(tmp_path: Path) -> None:
    """An imported graph's one relation joins a user's rows; an event-log graph's nodes are accounts."""
    graph, stats, *_ = _tiny_split(tmp_path)
    fs = FeatureSet.of(graph, stats.names)
    assert fs.link_relations and fs.group.shape == (graph.num_nodes, 0) and fs.group_names == []
    X, names = fs.matrix(BLOCKS, np.array([0]), np.array([1]), np.zeros((graph.num_nodes, len(GNN_COLUMNS)), np.float32))
    assert X.shape[1] == len(names) and not any(n.startswith("group_") for n in names)
    bare = FeatureSet.of(graph, stats.names, link_relations=())  # read as an imported static graph is
    np.testing.assert_allclose(bare.group, group_features(bare.x, bare.adj)[0], rtol=1e-6)
    assert bare.group_names[0] == f"group_mean_{stats.names[0]}" and bare.group.shape[1] == 2 * len(stats.names)


def test_views_read_only_their_blocks_and_the_scorer_averages_them(tmp_path: Path) -> None:
    graph, stats, nodes, y, tr, va = _tiny_split(tmp_path)
    cfg = replace(FAST, tree_views=("own", "labels+own+group+graph"))
    hyb, raw = fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va], cfg)
    X, fs = hyb.features(graph)
    own, graph_cols = len(stats.names), len(fs.graph_names) + len(fs.group_names)
    labels_cols = 6 + 2 * len(fs.link_relations)  # pooled, and per coordination relation of the tiny graph
    assert fs.link_relations and hyb.link_relations == fs.link_relations
    assert [list(c) for c in hyb.columns] == [list(range(own)), list(range(own + graph_cols + labels_cols))]  # prefixes
    assert hyb.boosters[0].feature_names == [n for n in fs.own_names]
    per_view = [tree_margin(b, X, None, c) for b, c in zip(hyb.boosters, hyb.columns)]
    np.testing.assert_allclose(hyb.margin(X), np.mean(per_view, axis=0), rtol=1e-6)
    contrib = contributions(hyb, X, np.arange(graph.num_nodes))
    unread = np.setdiff1d(np.arange(X.shape[1]), np.concatenate(hyb.columns))
    assert len(unread) == len(fs.spread_names) + 4 and not contrib[:, unread].any() and contrib.any()  # spread, gnn
    (tmp_path / "model").mkdir()
    hyb.save(tmp_path / "model")
    back = HybridModel.load(tmp_path / "model", hyb.gnn)
    assert back.views == ["own", "labels+own+group+graph"] and back.link_relations == hyb.link_relations
    assert np.array_equal(back.margin(X), hyb.margin(X))
    renamed = replace(hyb, names=[n.replace("_vs_typical", "") for n in hyb.names])  # as an older release named them
    with pytest.raises(InputError, match="other tree columns.*nbr2_abusive_share.*retrain"):
        renamed.features(graph)


def test_an_event_type_the_model_never_saw_changes_no_tree_column(tmp_path: Path) -> None:
    graph, stats, nodes, y, tr, va = _tiny_split(tmp_path)
    hyb, _ = fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va], FAST)
    assert hyb.relations and all(not r.startswith("rev_") for r in hyb.relations)
    e = np.random.default_rng(1).integers(0, graph.num_nodes, size=(2, 40))
    later = replace(graph, edge_index={**graph.edge_index, ("account", "duet", "account"): torch.as_tensor(e)})
    assert (FeatureSet.of(later, stats.names).adj != FeatureSet.of(graph, stats.names).adj).nnz  # it would have moved them
    X, _ = hyb.features(graph)
    X_later, fs_later = hyb.features(later)
    assert fs_later.relations == hyb.relations
    np.testing.assert_array_equal(X_later, X)
    (tmp_path / "model").mkdir()
    hyb.save(tmp_path / "model")
    back = HybridModel.load(tmp_path / "model", hyb.gnn)
    assert back.relations == hyb.relations
    np.testing.assert_array_equal(back.features(later)[0], X)
    meta = json.loads((tmp_path / "model" / HYBRID_FILE).read_text())
    del meta["relations"]  # as an older release wrote it: every relation of the scored graph, as before
    (tmp_path / "model" / HYBRID_FILE).write_text(json.dumps(meta))
    assert HybridModel.load(tmp_path / "model", hyb.gnn).relations is None


def test_a_lone_account_reads_missing_gnn_neighbours_and_an_older_model_its_stand_ins(tmp_path: Path) -> None:
    graph, stats, nodes, y, tr, va = _tiny_split(tmp_path)
    hyb, _ = fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va], FAST)
    lone = int(np.flatnonzero(graph.account_ids == NORMAL[45])[0])  # every edge of it dropped: a new account
    cut = replace(graph, edge_index={k: e[:, (e[0] != lone) & (e[1] != lone)] for k, e in graph.edge_index.items()})
    cols = [hyb.names.index(c) for c in GNN_COLUMNS]
    X, _ = hyb.features(cut)
    assert np.isfinite(X[lone, cols[0]]) and np.isnan(X[lone, cols[1:]]).all()
    assert np.isfinite(np.delete(X[:, cols], lone, axis=0)).all()
    assert np.isfinite(hyb.margin(X)).all()  # the trees route a missing value
    (tmp_path / "model").mkdir()
    hyb.save(tmp_path / "model")
    assert HybridModel.load(tmp_path / "model", hyb.gnn).lone_missing
    meta = json.loads((tmp_path / "model" / HYBRID_FILE).read_text())
    del meta["lone_missing"]  # as an older release wrote it: it was trained on the stand-ins
    (tmp_path / "model" / HYBRID_FILE).write_text(json.dumps(meta))
    older = HybridModel.load(tmp_path / "model", hyb.gnn)
    X_old, _ = older.features(cut)
    gnn = X_old[:, cols[0]]
    assert X_old[lone, cols[1:]].tolist() == pytest.approx([gnn.min(), gnn.min(), 0.0])
    np.testing.assert_array_equal(np.delete(X_old, lone, axis=0), np.delete(X, lone, axis=0))


def test_a_model_saved_before_per_relation_label_features_scores_as_it_did(tmp_path: Path) -> None:
    graph, stats, nodes, y, tr, va = _tiny_split(tmp_path)
    old_fs = FeatureSet.of(graph, stats.names, FAST.nbr_max, link_relations=())  # no per-relation label columns
    hyb, _ = fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va], FAST, fs=old_fs)
    assert hyb.link_relations == ()
    (tmp_path / "model").mkdir()
    hyb.save(tmp_path / "model")
    meta = json.loads((tmp_path / "model" / HYBRID_FILE).read_text())
    del meta["link_relations"]  # as an older release wrote it
    (tmp_path / "model" / HYBRID_FILE).write_text(json.dumps(meta))
    back = HybridModel.load(tmp_path / "model", hyb.gnn)
    assert back.link_relations == ()
    X_old, _ = hyb.features(graph, old_fs)
    X_back, fs_back = back.features(graph)  # rebuilt with the model's (empty) relations
    assert fs_back.link_relations == () and X_back.shape == X_old.shape
    np.testing.assert_array_equal(back.margin(X_back), hyb.margin(X_old))


@pytest.mark.parametrize("missing", [("group",), ("nbr_shares",), ("spectral",), ("nbr_shares", "spectral"),
                                     ("group", "nbr_shares", "spectral", "answerers")])
def test_a_model_saved_before_the_static_only_blocks_scores_as_it_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      missing: tuple[str, ...]) -> None:
    """Read as a static graph, the tiny graph has group, neighbour-share and spectral columns; a
    model from before them never reads them."""
    graph, stats, nodes, y, tr, va = _tiny_split(tmp_path)
    bare = FeatureSet.of(graph, stats.names, FAST.nbr_max, link_relations=())
    assert bare.group.shape[1] > 0 and bare.columns(BLOCKS, ("nbr_shares",)).size == len(NEIGHBOUR_SHARE_NAMES)
    assert bare.columns(BLOCKS, ("spectral",)).size == len(SPECTRAL_NAMES)
    with monkeypatch.context() as m:  # train as the release before those blocks did
        m.setattr("gnn.hybrid.BLOCKS", tuple(b for b in BLOCKS if b not in missing))
        hyb, raw = fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va],
                              replace(FAST, tree_views=("own", "own+graph+labels", "all")), fs=bare)
    assert not set(missing) & set(hyb.blocks)
    assert ("group" in missing) != any(n.startswith("group_") for n in hyb.names)
    assert ("nbr_shares" in missing) != bool(set(NEIGHBOUR_SHARE_NAMES) & set(hyb.names))
    assert ("spectral" in missing) != bool(set(SPECTRAL_NAMES) & set(hyb.names))
    (tmp_path / "model").mkdir()
    hyb.save(tmp_path / "model")
    meta = json.loads((tmp_path / "model" / HYBRID_FILE).read_text())
    assert meta["blocks"] == [b for b in BLOCKS if b not in missing]  # as that release wrote it
    if "spectral" in missing:  # nor did it write a basis, and scoring fits none for it
        for f in ("spectral.parquet", "spectral.json"):
            (tmp_path / "model" / f).unlink()
        monkeypatch.setattr("gnn.hybrid.SpectralBasis.fit", lambda *a, **k: pytest.fail("fitted an unused basis"))
    back = HybridModel.load(tmp_path / "model", hyb.gnn)
    X_back, fs_back = back.features(graph)  # rebuilt by this release: every block is there, the old ones read
    assert fs_back.group.shape[1] > 0 and X_back.shape[1] == len(hyb.names)
    deployed = np.setdiff1d(np.arange(graph.num_nodes), nodes[tr])  # training rows were fitted on out-of-fold GNN columns
    np.testing.assert_allclose(back.margin(X_back)[deployed], raw[deployed], rtol=1e-6)
    for blocks in (["own", "graph", "labels"], [*meta["blocks"], "own"], [*meta["blocks"], "friends"]):
        meta["blocks"] = blocks  # anything else is still refused
        (tmp_path / "model" / HYBRID_FILE).write_text(json.dumps(meta))
        with pytest.raises(InputError, match="feature blocks.*retrain"):
            HybridModel.load(tmp_path / "model", hyb.gnn)


def test_a_static_model_stores_its_spectral_basis_and_scores_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    graph, stats, nodes, y, tr, va = _tiny_split(tmp_path)
    fs = FeatureSet.of(graph, stats.names, FAST.nbr_max, link_relations=())  # read as an imported graph
    assert fs.basis is not None and len(fs.basis.account_ids) > graph.num_nodes / 2
    assert fs.spectral is not None and fs.spectral.shape == (graph.num_nodes, len(SPECTRAL_NAMES)) and fs.spectral.any()
    hyb, raw = fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va], FAST, fs=fs)
    assert hyb.spectral is fs.basis and set(SPECTRAL_NAMES) <= set(hyb.names)
    (tmp_path / "model").mkdir()
    hyb.save(tmp_path / "model")
    assert (tmp_path / "model" / "spectral.parquet").is_file()
    own_fit = FeatureSet.of(graph, stats.names, FAST.nbr_max, link_relations=())  # a caller's, with its own basis
    with monkeypatch.context() as m:
        m.setattr("gnn.hybrid.SpectralBasis.fit", lambda *a, **k: pytest.fail("scoring refitted the basis"))
        back = HybridModel.load(tmp_path / "model", hyb.gnn)
        X_back, fs_back = back.features(graph)
        assert back.features(graph, own_fit)[1].basis is back.spectral  # rebuilt on the model's, not the caller's
    assert fs_back is not fs
    np.testing.assert_array_equal(fs_back.spectral, fs.spectral)
    deployed = np.setdiff1d(np.arange(graph.num_nodes), nodes[tr])
    np.testing.assert_allclose(back.margin(X_back)[deployed], raw[deployed], rtol=1e-6)
    no_main = SpectralBasis.fit(sp.csr_matrix((graph.num_nodes, graph.num_nodes), dtype=np.float32), graph.account_ids)
    scattered = FeatureSet.of(graph, stats.names, FAST.nbr_max, link_relations=(), basis=no_main)
    assert scattered.spectral is None and scattered.columns(BLOCKS, ("spectral",)).size == 0  # no constant columns
    assert fs.on(graph).basis is fs.basis  # another graph is placed in the training graph's basis, not refitted
    event_log, _ = fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va], FAST)
    assert event_log.spectral is None and not set(SPECTRAL_NAMES) & set(event_log.names)
    (tmp_path / "event-log").mkdir()
    event_log.save(tmp_path / "event-log")
    assert not (tmp_path / "event-log" / "spectral.parquet").exists()
    for f in ("spectral.parquet", "spectral.json"):  # a static model's basis lost
        (tmp_path / "model" / f).unlink()
    with pytest.raises(InputError, match="reads spectral coordinates but its basis.*is missing"):
        HybridModel.load(tmp_path / "model", hyb.gnn)


def test_the_answers_relation_feeds_the_answerers_block_only_and_travels_with_the_model(tmp_path: Path) -> None:
    graph, stats, nodes, y, tr, va = _tiny_split(tmp_path)
    n = graph.num_nodes
    e = np.random.default_rng(0).integers(0, n, size=(2, 60))
    e = np.concatenate([e, e[:, :5], [[3], [3]]], axis=1)  # repeated pairs and a self-loop
    answered = replace(graph, side={"answers": torch.as_tensor(e)})
    plain = FeatureSet.of(graph, stats.names, FAST.nbr_max)
    fs = FeatureSet.of(answered, stats.names, FAST.nbr_max)
    assert plain.side_relations == () and fs.side_relations == ("answers",)
    assert fs.answers is not None and set(fs.answers.data) == {1.0} and not fs.answers.diagonal().any()
    assert fs.answers.nnz == len({(a, b) for a, b in e.T if a != b})
    assert (fs.adj != plain.adj).nnz == 0  # not in the pooled neighbourhood the other blocks read
    gnn_cols = np.zeros((n, len(GNN_COLUMNS)), np.float32)
    _, names = fs.matrix(BLOCKS, nodes[tr], y[tr], gnn_cols)
    _, plain_names = plain.matrix(BLOCKS, nodes[tr], y[tr], gnn_cols)
    assert [c for c in names if c not in plain_names] == list(ANSWERER_NAMES)
    hyb, raw = fit_hybrid(answered, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va], FAST, fs=fs)
    assert hyb.side_relations == ("answers",) and set(ANSWERER_NAMES) <= set(hyb.names)
    (tmp_path / "model").mkdir()
    hyb.save(tmp_path / "model")
    back = HybridModel.load(tmp_path / "model", hyb.gnn)
    assert back.side_relations == ("answers",)
    deployed = np.setdiff1d(np.arange(n), nodes[tr])
    np.testing.assert_allclose(back.margin(back.features(answered)[0])[deployed], raw[deployed], rtol=1e-6)
    # a snapshot without the relation: the same columns, saying no one answered
    X_none, _ = back.features(graph, plain)
    cols = [hyb.names.index(c) for c in ANSWERER_NAMES]
    assert (X_none[:, cols[:2]] == -1).all() and (X_none[:, cols[2]] == 0).all()
    # a caller scoring another graph with the training set's columns (the inductive benchmarks)
    on_plain = fs.on(graph)
    assert on_plain.side_relations == ("answers",) and on_plain.answers is not None and on_plain.answers.nnz == 0
    assert on_plain.link_relations == fs.link_relations and on_plain.with_max == fs.with_max
    assert on_plain.matrix(BLOCKS, nodes[tr], y[tr], gnn_cols)[1] == names
    assert plain.on(answered).answers is None
    # a model trained without the relation never reads it, even where a snapshot has it
    before, _ = fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va], FAST, fs=plain)
    assert before.side_relations == () and not set(ANSWERER_NAMES) & set(before.names)
    assert before.features(answered)[1].answers is None


def test_a_model_saved_before_the_answerers_block_scores_a_graph_with_answers_as_it_did(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    graph, stats, nodes, y, tr, va = _tiny_split(tmp_path)
    e = np.random.default_rng(2).integers(0, graph.num_nodes, size=(2, 60))
    answered = replace(graph, side={"answers": torch.as_tensor(e[:, e[0] != e[1]])})
    with monkeypatch.context() as m:  # trained as the release before the block
        m.setattr("gnn.hybrid.BLOCKS", tuple(b for b in BLOCKS if b != "answerers"))
        old, raw = fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va],
                              replace(FAST, tree_views=("own", "own+graph+labels", "all")))
    (tmp_path / "model").mkdir()
    old.save(tmp_path / "model")
    meta = json.loads((tmp_path / "model" / HYBRID_FILE).read_text())
    del meta["side_relations"]  # as that release wrote it
    (tmp_path / "model" / HYBRID_FILE).write_text(json.dumps(meta))
    back = HybridModel.load(tmp_path / "model", old.gnn)
    X, fs = back.features(answered)  # a snapshot the new build wrote
    assert back.side_relations == () and fs.answers is None and X.shape[1] == len(old.names)
    deployed = np.setdiff1d(np.arange(graph.num_nodes), nodes[tr])
    np.testing.assert_allclose(back.margin(X)[deployed], raw[deployed], rtol=1e-6)


def test_default_views_are_prefixes_with_the_static_only_blocks_and_an_empty_view_is_refused(tmp_path: Path) -> None:
    graph, stats, nodes, y, tr, va = _tiny_split(tmp_path)
    bare = FeatureSet.of(graph, stats.names, FAST.nbr_max, link_relations=())
    widths = [len(bare.own_names), len(SPECTRAL_NAMES), len(bare.graph_names), len(bare.group_names), len(LABEL_NAMES),
              len(NEIGHBOUR_SHARE_NAMES)]
    narrow, middle, _ = TrainConfig().tree_views
    assert (narrow, middle) == ("own+spectral", "own+spectral+graph+group+labels+nbr_shares+answerers")
    for view, width in ((narrow, sum(widths[:2])), (middle, sum(widths))):  # no answers relation: no answerers columns
        np.testing.assert_array_equal(bare.columns(BLOCKS, view_blocks(view)), np.arange(width))
    answered = FeatureSet.of(replace(graph, side={"answers": torch.tensor([[0], [1]])}), stats.names, FAST.nbr_max)
    cols = answered.columns(BLOCKS, view_blocks(middle))  # an event log with answers: a prefix too, ending in them
    np.testing.assert_array_equal(cols, np.arange(len(cols)))
    names = answered.matrix(BLOCKS, nodes[tr], y[tr], np.zeros((graph.num_nodes, len(GNN_COLUMNS)), np.float32))[1]
    assert names[len(cols) - len(ANSWERER_NAMES): len(cols)] == list(ANSWERER_NAMES)
    for view in ("group", "nbr_shares", "spectral", "answerers"):  # the event-log graph has none of them
        with pytest.raises(InputError, match=rf"\['{view}'\] have no columns"):
            fit_hybrid(graph, stats.names, graph.account_ids, nodes[tr], y[tr], nodes[va], y[va],
                       replace(FAST, tree_views=(view,)))


def test_view_names_are_checked() -> None:
    assert view_blocks("all") == ("own", "spectral", "graph", "group", "labels", "nbr_shares", "answerers", "spread", "gnn")
    assert view_blocks("gnn+own") == ("own", "gnn")
    with pytest.raises(InputError, match="unknown block.*'friends'.*valid"):
        view_blocks("own+friends")


def test_static_import_publishes_the_contract_layout(tmp_path: Path) -> None:
    npz = tmp_path / "g.npz"
    np.savez(npz, node_features=np.eye(4, 2, dtype=np.float32), node_labels=np.array([0, 1, 0, 1]),
             edges=np.array([[0, 1], [1, 2], [2, 3]]), train_masks=np.ones((1, 4), bool),
             val_masks=np.zeros((1, 4), bool), test_masks=np.zeros((1, 4), bool))
    g = read_static(npz, relation="rel")
    assert g.splits["train"].shape == (1, 4)
    home = Home(tmp_path / "home")
    manifest, labels = publish_static(home, g)
    graph, stats = load_graph(home.snapshots.path(manifest["version"]))
    assert graph.num_nodes == 4 and stats.names == ["f0", "f1"]
    rel = pl.read_parquet(home.snapshots.path() / "relations" / "rel.parquet")
    assert rel.height == 6  # undirected: both directions
    assert labels["label"].to_list() == [0, 1, 0, 1]
    kinds = read_static(npz, user_nodes=2)
    assert (kinds.labels[2:] == -1).all()
    assert publish_static(home, kinds)[1].height == 2


def test_load_static_maps_given_splits_onto_the_labelled_nodes(tmp_path: Path) -> None:
    from gnn.benchmark import load_static

    npz = tmp_path / "g.npz"
    labels = np.array([0, 1, -1, 0, 1, 0, -1, 1])  # nodes 2 and 6 are unlabelled
    train = np.array([[1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 0, 0]], bool)
    val = np.array([[0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0, 1]], bool)
    np.savez(npz, node_features=np.eye(8, 3, dtype=np.float32), node_labels=labels,
             edges=np.array([[0, 1], [1, 2], [2, 3], [4, 5], [6, 7]]), train_masks=train, val_masks=val,
             test_masks=~(train | val))
    data = load_static("tiny", npz)
    assert data.name == "tiny" and data.path == npz
    np.testing.assert_array_equal(data.nodes, [0, 1, 3, 4, 5, 7])
    np.testing.assert_array_equal(data.y, [0, 1, 0, 1, 0, 1])
    protocol, splits = data.splits(5)
    assert protocol == "given splits (first 2 of 2)" and len(splits) == 2
    for (tr, va, te), tr_mask, va_mask in zip(splits, train, val):  # positions into nodes, unlabelled nodes dropped
        np.testing.assert_array_equal(data.nodes[tr], np.flatnonzero(tr_mask & (labels >= 0)))
        np.testing.assert_array_equal(data.nodes[va], np.flatnonzero(va_mask & (labels >= 0)))
        np.testing.assert_array_equal(data.nodes[te], np.flatnonzero(~(tr_mask | va_mask) & (labels >= 0)))
    with pytest.raises(InputError, match="unknown dataset 'nope'.*valid: amazon"):
        load_static("nope")


def test_given_splits_are_checked(tmp_path: Path) -> None:
    from gnn.benchmark import load_static

    base = {"node_features": np.eye(6, 2, dtype=np.float32), "node_labels": np.array([0, 1, 0, 1, 0, 1]),
            "edges": np.array([[0, 1], [2, 3]])}
    one = np.array([1, 1, 0, 0, 0, 0], bool)
    cases = {
        "some": ({"train_masks": one[None], "test_masks": ~one[None]}, "need all of train_masks, val_masks, test_masks; found only train_masks, test_masks"),
        "ints": ({"train_masks": one[None].astype(int), "val_masks": one[None], "test_masks": ~one[None]}, r"boolean \[splits, 6\].*train_masks int64\[1, 6\]"),
        "width": ({"train_masks": one[None, :5], "val_masks": one[None], "test_masks": ~one[None]}, r"train_masks bool\[1, 5\]"),
        "counts": ({"train_masks": np.stack([one, one]), "val_masks": one[None], "test_masks": ~one[None]}, "same number of splits"),
    }
    for name, (masks, message) in cases.items():
        np.savez(tmp_path / f"{name}.npz", **base, **masks)
        with pytest.raises(InputError, match=message):
            load_static(name, tmp_path / f"{name}.npz")
    flat = tmp_path / "flat.npz"  # one split may come as [n]
    np.savez(flat, **base, train_masks=np.array([1, 1, 0, 0, 0, 0], bool), val_masks=np.array([0, 0, 1, 0, 0, 0], bool),
             test_masks=np.array([0, 0, 0, 1, 1, 1], bool))
    protocol, splits = load_static("flat", flat).splits(3)
    assert protocol == "given splits (first 1 of 1)"
    np.testing.assert_array_equal(splits[0][2], [3, 4, 5])
    lopsided = tmp_path / "lopsided.npz"  # its test part holds one class only
    np.savez(lopsided, **base, train_masks=np.array([1, 1, 0, 0, 0, 0], bool), val_masks=np.array([0, 0, 1, 1, 0, 0], bool),
             test_masks=np.array([0, 0, 0, 0, 0, 1], bool))
    with pytest.raises(InputError, match="given split 0 has 2 / 2 / 1 labelled.*both classes"):
        load_static("lopsided", lopsided).splits(1)
    overlap = tmp_path / "overlap.npz"  # its test part is its training part: scores would read their own labels
    np.savez(overlap, **base, train_masks=np.array([1, 1, 0, 0, 1, 1], bool), val_masks=np.array([0, 0, 1, 1, 0, 0], bool),
             test_masks=np.array([0, 0, 0, 0, 1, 1], bool))
    with pytest.raises(InputError, match="given split 0 puts 2 labelled node.*more than one of train / val / test"):
        load_static("overlap", overlap).splits(1)


def test_a_stratified_split_without_both_classes_in_training_and_test_is_refused(tmp_path: Path) -> None:
    from gnn.benchmark import load_static

    few = tmp_path / "few.npz"  # one abusive node: 40/20/40 puts it in the test part, and training has none
    np.savez(few, x=np.eye(12, 2, dtype=np.float32), edge_index=np.array([[0, 2], [1, 3]]),
             y=np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
    with pytest.raises(InputError, match="split 0 has .* 0 / 0 / 1 positives"):
        load_static("few", few).splits(1)


def test_static_import_of_real_datasets_when_present() -> None:
    from gnn.benchmark import STATIC, datasets_root
    from ringwatch.settings import Settings

    root = datasets_root(Settings().datasets)
    if not root.is_dir():
        pytest.skip(f"real datasets not found at {root} (../shared/datasets next to the repository)")
    for name, (rel, opts) in STATIC.items():
        g = read_static(root / rel, **opts)
        assert g.num_nodes > 1000 and g.edges.shape[1] == 2 and (g.labels == 1).sum() > 100, name
    assert isinstance(g, StaticGraph)


def test_view_columns_are_sliced_where_they_run_and_copied_in_order_otherwise() -> None:
    from gnn.hybrid import _take

    X = np.arange(20, dtype=np.float32).reshape(5, 4)
    rows = np.array([3, 1])
    for cols in ([1, 2], [0, 2, 3], [2, 0], [0, 1, 2, 3]):
        c = np.array(cols)
        assert np.array_equal(_take(X, rows, c), X[rows][:, c])
        assert np.array_equal(_take(X, None, c), X[:, c])
    assert np.shares_memory(_take(X, None, np.array([1, 2])), X)  # a run is a view, not a copy


def test_tree_column_names_are_unique_and_stable_under_renaming() -> None:
    from gnn.hybrid import _safe

    assert _safe(["a", "a", "a"]) == ["a", "a#1", "a#2"]
    assert _safe(["a", "a", "a#1"]) == ["a", "a#1", "a#1#2"]  # a repeat's new name never collides
    renamed = _safe(["x[0]", "a", "a", "a#1"])
    assert renamed == ["x(0)", "a", "a#2", "a#1"]
    assert _safe(renamed) == renamed  # a view's names, taken from the full list, stay as they are
