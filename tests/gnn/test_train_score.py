"""Training, scoring, rings, explanations and label hygiene on a tiny planted-ring graph."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gnn.labels import read_labels
from gnn.score import EXPLANATIONS_TABLE, RINGS_TABLE, score
from gnn.train import LABELS_USED_FILE, TrainConfig, labels_used, train
from graphs.import_static import StaticGraph, publish_static
from ringwatch.errors import ConfigError, InputError
from ringwatch.types import SCORES_TABLE
from ringwatch.versions import Home
from tests.gnn.tiny import NORMAL, RING, T0, publish_tiny, tiny_labels, write_labels

FAST = TrainConfig(hidden=16, epochs=60, min_epochs=20, patience=10, seed=3, device="cpu", tree_bags=3,
                   cross_fit=1)  # one hybrid: the ensemble has tests/gnn/test_ensemble.py
"""Three bagged boosters: on 27 training labels one booster's leaves put a ring-like normal
account (n48) level with the ring; the average of three separates them."""


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home(tmp_path / "home")
    publish_tiny(h)
    return h


def _scores(home: Home) -> pl.DataFrame:
    return pl.read_parquet(home.scores.path() / SCORES_TABLE)


def test_train_and_score_rank_the_ring_first(home: Home) -> None:
    manifest = train(home, tiny_labels(), FAST)
    assert manifest["version"] == "v1" and manifest["snapshot_version"] == "v1"
    out = score(home)
    assert out["model_version"] == "v1" and out["count"] == len(RING) + len(NORMAL)
    assert out["warnings"] == [] and "spectral_coverage" not in out  # an event-log model reads no positions
    s = _scores(home)
    assert s["account_id"].is_sorted()
    unlabelled_ring = s.filter(pl.col("account_id").is_in(RING[6:]))["risk"].min()
    unlabelled_normal = s.filter(pl.col("account_id").is_in(NORMAL[30:]))["risk"].max()
    assert unlabelled_ring > unlabelled_normal


def test_the_model_records_every_label_it_saw(home: Home) -> None:
    labels = tiny_labels()
    stray = pl.DataFrame({"account_id": ["no-such-account"], "label": [1], "source": ["test"], "ts": [T0]},
                         schema=labels.schema)
    manifest = train(home, pl.concat([labels, stray]), FAST)
    assert manifest["metrics"]["labels_not_in_snapshot"] == 1  # said, not silently dropped
    assert labels_used(home, "v1") == set(labels["account_id"].to_list())  # training and validation alike
    (home.models.path("v1") / LABELS_USED_FILE).unlink()  # a model saved before the record was kept:
    assert labels_used(home, "v1") == set()  # its snapshot's log carried no labels; HOME/labels is the caller's
    log = home.snapshots.path("v1") / "log_labels.parquet"
    pl.DataFrame({"account_id": RING[:2], "label": [1, 1]}).write_parquet(log)
    assert labels_used(home, "v1") == set(RING[:2])


def test_training_is_deterministic_for_a_seed(home: Home) -> None:
    train(home, tiny_labels(), FAST)
    score(home)
    first = _scores(home)["raw_score"].to_numpy()
    train(home, tiny_labels(), FAST)
    score(home)
    assert np.allclose(first, _scores(home)["raw_score"].to_numpy())


def test_planted_ring_is_found_and_explained(home: Home) -> None:
    train(home, tiny_labels(), FAST)
    score(home)
    s = _scores(home)
    rings = pl.read_parquet(home.scores.path() / RINGS_TABLE)
    ring_ids = s.filter(pl.col("account_id").is_in(RING))["ring_id"].unique().to_list()
    assert len(ring_ids) == 1 and ring_ids[0] is not None
    members = set(rings.filter(pl.col("ring_id") == ring_ids[0])["members"][0].to_list())
    assert members == set(RING)
    assert s.filter(pl.col("account_id").is_in(NORMAL))["ring_id"].null_count() == len(NORMAL)
    ex = pl.read_parquet(home.scores.path() / EXPLANATIONS_TABLE)
    row = ex.filter(pl.col("account_id") == RING[7]).row(0, named=True)
    neighbours = json.loads(row["top_neighbors"])
    assert neighbours and all(n["account_id"] in RING for n in neighbours if n["relation"] == "coaction")
    assert any(n["relation"] == "coaction" for n in neighbours)
    assert any("lockstep" in r for r in json.loads(row["reasons"]))


def test_inductive_scoring_of_an_account_unseen_in_training(home: Home) -> None:
    train(home, tiny_labels(), FAST)
    publish_tiny(home, extra_ring_member="newcomer")  # snapshot v2: one account more
    score(home)
    s = _scores(home)
    new = s.filter(pl.col("account_id") == "newcomer").row(0, named=True)
    assert new["risk"] > s.filter(pl.col("account_id").is_in(NORMAL))["risk"].max()
    assert new["ring_id"] is not None


@pytest.mark.parametrize("stage", ["load", "raw"])  # reading the snapshot, or scoring it before the publish
def test_a_prune_while_scoring_an_older_snapshot_leaves_it_alone(home: Home, monkeypatch: pytest.MonkeyPatch,
                                                                 stage: str) -> None:
    from gnn import score as score_module

    train(home, tiny_labels(), FAST)
    publish_tiny(home, seed=1)
    publish_tiny(home, seed=2)  # v3 current; v1 is what the model was trained on
    step = getattr(score_module.Scorer, stage)
    pruned: list[list[str]] = []

    def step_while_a_build_prunes(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        pruned.append(home.snapshots.prune(keep=1, in_use=home.in_use()["snapshots"]))  # a build finishing meanwhile
        return step(*args, **kwargs)

    monkeypatch.setattr(score_module.Scorer, stage, step_while_a_build_prunes if stage == "raw"
                        else staticmethod(step_while_a_build_prunes))
    manifest = score(home, snapshot="v2")
    assert pruned == [[]] and manifest["snapshot_version"] == "v2"  # v1 the model's, v2 being read
    monkeypatch.undo()
    assert home.snapshots.prune(keep=1, in_use=home.in_use()["snapshots"]) == []  # v2 now names the current scores
    assert home.snapshots.prune(keep=1) == ["v1", "v2"]  # nothing else holds them


def test_an_undated_label_under_a_cutoff_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "undated.parquet"
    pl.DataFrame({"account_id": ["a", "b"], "label": [1, 0]}).write_parquet(path)
    assert read_labels([path])["account_id"].to_list() == ["a", "b"]  # no cut-off: fine
    with pytest.raises(InputError, match="2 label\\(s\\) have no ts \\(sources: undated\\)"):
        read_labels([path], cutoff=T0)


def test_labels_after_the_cutoff_never_reach_training(home: Home, tmp_path: Path) -> None:
    """Leakage: a future label, even one that contradicts the truth, changes nothing."""
    past = write_labels(tmp_path / "labels" / "past.parquet", tiny_labels())
    cutoff = T0 + dt.timedelta(days=1)
    future = tiny_labels(ts=T0 + dt.timedelta(days=30)).with_columns(pl.lit(1).alias("label"), pl.lit("future").alias("source"))
    write_labels(tmp_path / "labels" / "future.parquet", future)
    with_future = read_labels([tmp_path / "labels"], cutoff=cutoff)
    assert with_future.equals(read_labels([past], cutoff=cutoff))
    assert (with_future["source"] == "test").all()
    train(home, with_future, FAST)
    score(home)
    a = _scores(home)["raw_score"].to_numpy()
    train(home, read_labels([past]), FAST)
    score(home)
    assert np.allclose(a, _scores(home)["raw_score"].to_numpy())


def test_training_without_both_classes_is_a_clear_error(home: Home) -> None:
    only_bad = tiny_labels().filter(pl.col("label") == 1)
    with pytest.raises(InputError, match="at least 2 abusive and 2 benign"):
        train(home, only_bad, FAST)
    assert home.models.current() is None


def test_a_relation_without_edges_at_training_gets_no_gnn_weights(home: Home) -> None:
    from gnn.data import load_graph
    from gnn.train import _train_gnn

    graph, _ = load_graph(home.snapshots.path())
    coaction = next(et for et in graph.edge_index if et[1] == "coaction")
    graph.edge_index[coaction] = graph.edge_index[coaction][:, :0]  # a quiet day: the build wrote it empty
    nodes = np.arange(graph.num_nodes)
    y = np.isin(graph.account_ids, RING).astype(np.float32)
    model, *_ = _train_gnn(graph, nodes[::2], y[::2], nodes[1::2], y[1::2], replace(FAST, epochs=2, min_epochs=1))
    assert coaction not in model.edge_types and any(et[1] == "follow" for et in model.edge_types)


def test_labels_too_few_to_split_on_publish_no_model(home: Home) -> None:
    few = tiny_labels().filter(pl.col("account_id").is_in([*RING[:2], *NORMAL[:2]]))
    with pytest.raises(InputError, match="scores every account alike: 2 abusive and 2 benign"):
        train(home, few, FAST)  # the trees could not split: every account would be MEDIUM
    assert home.models.current() is None


def test_scoring_warns_when_the_spectral_basis_no_longer_covers_the_graph(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 60
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0.6).astype(np.int64)
    cycle = np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1)  # one component: every account embedded
    chords = rng.integers(0, n, size=(60, 2))
    edges = np.unique(np.sort(np.concatenate([cycle, chords[chords[:, 0] != chords[:, 1]]]), axis=1), axis=0)
    home = Home(tmp_path / "home")
    _, labels = publish_static(home, StaticGraph(x, edges, y, relation="rel"))
    model = train(home, labels, FAST)
    first = score(home)
    assert first["spectral_coverage"] == 1.0 and first["warnings"] == []
    publish_static(home, StaticGraph(x, edges[:4], y, relation="rel"))  # the same accounts, nearly every edge gone
    later = score(home, model["version"])
    assert later["snapshot_version"] != first["snapshot_version"]
    assert later["spectral_coverage"] < 0.2
    assert len(later["warnings"]) == 1 and "spectral basis places only" in later["warnings"][0]
    assert "retrain" in later["warnings"][0]
    assert _scores(home)["risk"].is_between(0, 1).all()  # still scored: a warning, not a refusal


def _random_graph(seed: int, n: int, pairs: int, cut: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four normal features, a label led by the first, and random undirected edges: ``x, edges, y``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > cut).astype(np.int64)
    drawn = rng.integers(0, n, size=(pairs, 2))
    return x, np.unique(np.sort(drawn[drawn[:, 0] != drawn[:, 1]], axis=1), axis=0), y


def test_scoring_warns_when_the_population_has_moved_since_training(tmp_path: Path) -> None:
    x, edges, y = _random_graph(1, 200, 400, 1.0)
    home = Home(tmp_path / "home")
    _, labels = publish_static(home, StaticGraph(x, edges, y, relation="rel"))
    model = train(home, labels, FAST)
    drift_file = home.models.path(model["version"]) / "drift.json"
    assert drift_file.is_file() and model["metrics"]["level_shares"]["MEDIUM"] > 0
    same = score(home)
    assert same["warnings"] == [] and same["drift"]["features_moved"] == 0
    assert same["drift"]["level_shares"]["MEDIUM"]["scored"] == pytest.approx(model["metrics"]["level_shares"]["MEDIUM"], abs=1e-4)
    moved = x.copy()
    moved[:, :3] += 4.0  # three features on another scale: another market, or a logging change
    publish_static(home, StaticGraph(moved, edges, y, relation="rel"))
    later = score(home, model["version"])
    assert later["drift"]["features_moved"] == 3 and set(later["drift"]["psi"]) >= {"f0", "f1", "f2"}
    assert later["drift"]["level_shares"]["MEDIUM"]["scored"] >= 1.5 * later["drift"]["level_shares"]["MEDIUM"]["trained"]
    (warning,) = later["warnings"]  # the first feature carries the label: many more accounts look risky
    assert "at MEDIUM or above" in warning and "3 of 4 features moved materially" in warning and "retrain" in warning
    assert _scores(home)["risk"].is_between(0, 1).all()  # still scored: a warning, not a refusal
    # a model version from before drift references were kept (no file, none in its manifest) scores without them
    manifest_file = drift_file.parent / "manifest.json"
    kept = json.loads(manifest_file.read_text())
    del kept["files"]["drift.json"]
    manifest_file.write_text(json.dumps(kept))
    drift_file.unlink()
    older = score(home, model["version"])
    assert "drift" not in older and older["warnings"] == []


def test_scoring_warns_when_the_snapshot_lacks_a_feature_the_model_was_trained_with(tmp_path: Path) -> None:
    x, edges, y = _random_graph(2, 80, 200, 0.8)
    home = Home(tmp_path / "home")
    _, labels = publish_static(home, StaticGraph(x, edges, y, relation="rel"))
    model = train(home, labels, FAST)
    assert score(home)["warnings"] == []
    publish_static(home, StaticGraph(x[:, :3], edges, y, relation="rel"))  # built without the last column
    later = score(home, model["version"])
    (warning,) = [w for w in later["warnings"] if "lacks" in w]
    assert "lacks 1 feature column(s)" in warning and "f3" in warning and "retrain" in warning
    assert _scores(home)["risk"].is_between(0, 1).all()


def test_a_config_that_cannot_train_is_refused_before_any_work() -> None:
    with pytest.raises(ConfigError, match="epochs >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="seed >= 0"):
        TrainConfig(seed=-1)
