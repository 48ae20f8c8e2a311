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
from ringwatch.errors import InputError, NotFoundError
from ringwatch.types import SCORES_TABLE
from ringwatch.versions import Home
from tests.gnn.tiny import NORMAL, RING, publish_tiny, tiny_labels

FAST = TrainConfig(hidden=16, epochs=60, min_epochs=20, patience=10, seed=3, device="cpu", trees=30, gnn_folds=2)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    h = Home(tmp_path_factory.mktemp("explain") / "home")
    publish_tiny(h)
    train(h, tiny_labels(), FAST)
    score(h)
    return h


def _follows(home: Home, account: str) -> set[str]:
    rel = pl.read_parquet(home.snapshots.path() / "relations" / "follow.parquet")
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
    out = explain_accounts(h, [NORMAL[40]], features=3)
    assert out["model"] == "gnn"
    (acc,) = out["accounts"]
    names = {c["feature"] for c in acc["contributions"]}
    assert names and len(names) <= 3 and names <= {"n_events", "share_gaps_under_1m", "hour_entropy", "coaction_degree"}
    assert all(np.isfinite(c["value"]) for c in acc["contributions"])


def test_unknown_accounts_and_bad_limits_are_clear_errors(home: Home) -> None:
    with pytest.raises(NotFoundError, match="no account nobody"):
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
