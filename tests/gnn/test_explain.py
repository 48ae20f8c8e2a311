"""On-demand explanations of any account's published score."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from gnn.explain import explain_accounts
from gnn.score import EXPLANATIONS_TABLE, score
from gnn.train import TrainConfig, train
from ringwatch.cli import app
from ringwatch.errors import InputError, IntegrityError, NotFoundError
from ringwatch.types import SCORES_TABLE, SNAPSHOT_ACCOUNTS, SNAPSHOT_RELATIONS_DIR
from ringwatch.versions import Home
from tests.gnn.tiny import NORMAL, RING, publish_tiny, tiny_labels

FAST = TrainConfig(hidden=16, epochs=60, min_epochs=20, patience=10, seed=3, device="cpu", trees=30, gnn_folds=2,
                   cross_fit=1)  # one hybrid: the ensemble's explanations are in tests/gnn/test_ensemble.py


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    h = Home(tmp_path_factory.mktemp("explain") / "home")
    publish_tiny(h)
    train(h, tiny_labels(), FAST)
    score(h)
    return h


def _follows(home: Home, account: str) -> set[str]:
    rel = pl.read_parquet(home.snapshots.path() / SNAPSHOT_RELATIONS_DIR / "follow.parquet")
    return set(rel.filter(pl.col("src") == account)["dst"].to_list()) | set(rel.filter(pl.col("dst") == account)["src"].to_list())


def test_a_low_account_without_stored_explanation_is_explained(home: Home) -> None:
    scores = pl.read_parquet(home.scores.path() / SCORES_TABLE)
    stored = set(pl.read_parquet(home.scores.path() / EXPLANATIONS_TABLE)["account_id"].to_list())
    low = next(a for a in NORMAL[30:] if a not in stored and _follows(home, a))
    out = explain_accounts(home, [low, RING[7]])
    assert out["score_set"] == "v1" and out["model"] == "hybrid"
    quiet, member = out["accounts"]
    assert quiet["account_id"] == low and quiet["level"] == "LOW"
    assert quiet["risk"] == pytest.approx(scores.filter(pl.col("account_id") == low)["risk"][0])  # the published score
    assert quiet["contributions"] and len(quiet["contributions"]) <= 5
    sizes = [abs(c["contribution"]) for c in quiet["contributions"]]
    assert sizes == sorted(sizes, reverse=True)
    assert {n["account_id"] for n in quiet["top_neighbors"]} <= _follows(home, low)  # real neighbours only
    # the ring member: lockstep partners, and the same reasons scoring stored for it
    assert member["ring_id"] is not None
    assert any(n["relation"] == "coaction" and n["account_id"] in RING for n in member["top_neighbors"])
    stored_row = pl.read_parquet(home.scores.path() / EXPLANATIONS_TABLE).filter(pl.col("account_id") == RING[7])
    assert member["reasons"] == json.loads(stored_row["reasons"][0])


def test_the_gnn_alone_is_explained_by_gradient_times_input(tmp_path: Path) -> None:
    h = Home(tmp_path / "home")
    publish_tiny(h)
    train(h, tiny_labels(), replace(FAST, model="gnn"))
    score(h)
    stored = pl.read_parquet(h.scores.path() / EXPLANATIONS_TABLE)
    assert RING[7] in stored["account_id"].to_list() and NORMAL[40] not in stored["account_id"].to_list()
    out = explain_accounts(h, [NORMAL[40], RING[7]], features=3)
    assert out["model"] == "gnn"
    quiet, member = out["accounts"]
    accounts = pl.read_parquet(h.snapshots.path() / SNAPSHOT_ACCOUNTS)
    for acc in (quiet, member):
        assert acc["contributions"] and len(acc["contributions"]) <= 3
        for c in acc["contributions"]:  # the stored values, not the model's normalised inputs
            assert c["value"] == pytest.approx(accounts.filter(pl.col("account_id") == acc["account_id"])[c["feature"]][0])
    # attributed within the set scoring attributed together, whoever else is asked about
    assert member["reasons"] == json.loads(stored.filter(pl.col("account_id") == RING[7])["reasons"][0])


def test_explaining_scores_that_no_longer_match_is_refused() -> None:
    from gnn.explain import _check_recomputed

    _check_recomputed(np.array([0.5, -2.0], np.float32), np.array([0.5, -2.0005]), "v3")
    with pytest.raises(IntegrityError, match="score set v3's by up to 0.25"):
        _check_recomputed(np.array([0.5, -2.0], np.float32), np.array([0.75, -2.0]), "v3")


def test_unknown_accounts_and_bad_limits_are_clear_errors(home: Home) -> None:
    with pytest.raises(NotFoundError, match="no account nobody; it explains the accounts of snapshot v1"):
        explain_accounts(home, ["nobody", RING[0]])
    with pytest.raises(InputError, match="between 1 and"):
        explain_accounts(home, [])
    with pytest.raises(InputError, match="at least 1"):
        explain_accounts(home, [RING[0]], neighbors=0)


def test_cli_explain_prints_json(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    from ringwatch.cli import common

    monkeypatch.setenv("RINGWATCH_HOME", str(home.root))
    common.settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["explain", RING[0], NORMAL[59], "--json"])
    finally:
        common.settings.cache_clear()
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [a["account_id"] for a in payload["accounts"]] == [RING[0], NORMAL[59]]


def test_a_missing_tree_value_reads_none_not_nan() -> None:
    """A neighbourless account's gnn neighbour columns are NaN in the tree input; shown as none."""
    from types import SimpleNamespace

    from gnn.explain import _value
    from gnn.reasons import reasons_for

    graph = SimpleNamespace(accounts=pl.DataFrame({"account_id": ["a", "b"], "n_events": [3.0, 4.0]}), absent=())
    from gnn.data import FeatureStats
    from gnn.reasons import QuotedValues

    names = ["gnn", "gnn_nbr1_mean"]
    X = QuotedValues(np.array([[0.5, np.nan], [0.25, 0.75]], np.float32), names, FeatureStats([], [], []))
    rows = X.rows(np.arange(2))
    assert _value(graph, "gnn_nbr1_mean", 0, rows[0], 1) is None  # type: ignore[arg-type]
    assert _value(graph, "gnn_nbr1_mean", 1, rows[1], 1) == 0.75  # type: ignore[arg-type]
    assert _value(graph, "n_events", 0, rows[0], 0) == 3.0  # type: ignore[arg-type]
    reasons = reasons_for(graph, names, np.array([0, 1]), np.array([[0.2, 0.1], [0.2, 0.1]]), values=X)  # type: ignore[arg-type]
    assert reasons == [["gnn=0.5", "gnn_nbr1_mean=none"], ["gnn=0.25", "gnn_nbr1_mean=0.75"]]



def test_values_an_account_lacks_read_none_and_never_nan() -> None:
    from types import SimpleNamespace

    from gnn.explain import _value
    from gnn.reasons import reasons_for

    accounts = pl.DataFrame({"account_id": ["a", "b"], "score": [float("nan"), float("inf")], "seen": [None, 2.0]})
    graph = SimpleNamespace(accounts=accounts, absent=("hour_entropy",))  # a column the snapshot lacks
    assert [_value(graph, "score", n, None, 0) for n in (0, 1)] == [None, None]  # type: ignore[arg-type]
    assert _value(graph, "seen", 0, None, 0) is None and _value(graph, "seen", 1, None, 0) == 2.0  # type: ignore[arg-type]
    from gnn.data import FeatureStats
    from gnn.reasons import QuotedValues

    X = QuotedValues(np.zeros((2, 1), np.float32), ["hour_entropy"], FeatureStats([], [], []))  # the training mean there
    assert _value(graph, "hour_entropy", 0, X.rows(np.array([0]))[0], 0) is None  # type: ignore[arg-type]
    assert reasons_for(graph, ["hour_entropy"], np.array([0]), np.array([[0.3]]), values=X) == [["hour_entropy=none"]]  # type: ignore[arg-type]


def test_neighbour_aggregates_are_quoted_in_the_features_own_units() -> None:
    from gnn.data import FeatureStats
    from gnn.reasons import QuotedValues

    frame = pl.DataFrame({"follows_out": [0.0, 3.0, 40.0, 1200.0, 5.0], "hour_entropy": [0.1, 0.5, 2.0, 1.0, 0.3]})
    stats = FeatureStats.fit(frame, ["follows_out", "hour_entropy"])
    z = stats.transform(frame).numpy()
    nbrs = [1, 2, 3]  # account 0's neighbours; account 4 has none, and its aggregates read a stand-in 0
    names = ["nbr_log_degree", "nbr1_max_follows_out", "nbr1_mean_follows_out", "nbr1_std_follows_out",
             "vs_nbr1_hour_entropy", "nbr1_abusive", "coaction_abusive_share", "group_mean_follows_out", "nbr1_max_n_post"]
    X = np.zeros((5, len(names)), np.float32)
    X[0] = [np.log1p(3), z[nbrs, 0].max(), z[nbrs, 0].mean(), z[nbrs, 0].std(), z[0, 1] - z[nbrs, 1].mean(),
            np.log1p(16.0), 0.25, z[[0, *nbrs], 0].mean(), 0.0]
    X[4, 7] = z[4, 0]  # its group is itself
    quoted = QuotedValues(X, names, stats, absent=("n_post",)).rows(np.arange(5))  # the snapshot lacks n_post
    assert quoted[0, 1] == pytest.approx(1200.0, rel=1e-4)  # the busiest neighbour's count, not a z-score
    assert quoted[0, 2] == pytest.approx(np.expm1(np.log1p([3.0, 40.0, 1200.0]).mean()), rel=1e-4)  # a typical one
    assert quoted[0, 3] == pytest.approx(X[0, 3]) and quoted[0, 4] == pytest.approx(X[0, 4])  # in standard deviations
    assert quoted[0, 5] == pytest.approx(16.0) and quoted[0, 6] == 0.25  # a count of abusive neighbours; a share
    assert np.isnan(quoted[4, 1]) and np.isnan(quoted[4, 2]) and quoted[4, 7] == pytest.approx(5.0, rel=1e-4)
    assert np.isnan(quoted[0, 8])  # the snapshot lacks n_post: none, not the stand-in's 0
    members = [X.copy(), X.copy()]  # a cross-fitted ensemble: the members' label columns differ
    members[1][0, 5] = np.log1p(2.0)
    assert QuotedValues(members, names, stats).rows(np.array([0]))[0, 5] == pytest.approx(9.0)  # the mean of the counts 16 and 2


def test_explained_neighbour_maxima_are_real_neighbours_values(home: Home) -> None:
    accounts = pl.read_parquet(home.snapshots.path() / SNAPSHOT_ACCOUNTS)
    out = explain_accounts(home, [*RING[:4], *NORMAL[:4]], features=40)
    quoted = [(c["feature"].removeprefix("nbr1_max_"), c["value"]) for a in out["accounts"] for c in a["contributions"]
              if c["feature"].startswith("nbr1_max_") and c["value"] is not None]
    assert quoted
    for feature, value in quoted:
        assert np.isclose(accounts[feature].cast(pl.Float64).to_numpy(), value, rtol=1e-3, atol=1e-3).any(), feature


def test_top_neighbours_of_a_lone_account_are_empty_and_each_neighbour_is_listed_once() -> None:
    from gnn.reasons import top_neighbors

    ids = np.array(["a", "b", "c", "lone"])
    risk = np.array([0.9, 0.8, 0.2, 0.5])
    follow = pl.DataFrame({"src_i": [0, 1, 0], "dst_i": [1, 0, 2], "count": [1, 1, 1]})  # a and b follow each other
    out = top_neighbors(ids, risk, {"follow": follow}, np.array([0, 3]))
    by_id = dict(zip(out["account_id"].to_list(), out["top_neighbors"].to_list()))
    assert json.loads(by_id["lone"]) == []
    listed = [(n["account_id"], n["relation"]) for n in json.loads(by_id["a"])]
    assert listed == [("b", "follow"), ("c", "follow")]
