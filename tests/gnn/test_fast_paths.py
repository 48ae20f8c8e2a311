"""The scoring fast paths equal the slow ones: stored node codes vs the string join, in-place
feature transform, top neighbours by node code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from gnn.data import FeatureStats, load_graph, load_relations, read_accounts, with_node_codes
from gnn.score import EXPLANATIONS_TABLE, RINGS_TABLE, score
from gnn.train import TrainConfig, train
from graphs.assemble import add_node_codes as build_codes
from ringwatch.errors import InputError
from ringwatch.types import NODE_CODES, SCORES_TABLE, SNAPSHOT_ACCOUNTS, SNAPSHOT_RELATIONS_DIR
from ringwatch.versions import Home
from tests.gnn.tiny import publish_tiny, tiny_labels

FAST = TrainConfig(hidden=16, epochs=30, min_epochs=10, patience=5, seed=3, device="cpu", trees=20,
                   cross_fit=1)  # one hybrid: the ensemble has tests/gnn/test_ensemble.py


def _publish_with_codes(home: Home, version: str, drop: str | None = None) -> str:
    """Copy snapshot ``version`` as a new one whose relations carry build-written node codes."""
    src = home.snapshots.path(version)
    ids = read_accounts(src)["account_id"]
    with home.snapshots.publish({"kind": "snapshot", "test": "codes"}) as staging:
        shutil.copy(src / SNAPSHOT_ACCOUNTS, staging / SNAPSHOT_ACCOUNTS)
        (staging / SNAPSHOT_RELATIONS_DIR).mkdir()
        for p in sorted((src / SNAPSHOT_RELATIONS_DIR).glob("*.parquet")):
            table = pl.read_parquet(p)
            if drop is not None:
                table = table.with_columns(pl.when(pl.col("src") == drop).then(pl.lit("ghost")).otherwise("src").alias("src"))
            build_codes(table, ids).write_parquet(staging / SNAPSHOT_RELATIONS_DIR / p.name)
    return str(home.snapshots.current())


def _edge_set(ei: torch.Tensor) -> list[tuple[int, int]]:
    return sorted(map(tuple, ei.t().tolist()))


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home(tmp_path / "home")
    publish_tiny(h)
    return h


def test_stored_codes_load_the_graph_the_string_join_loads(home: Home) -> None:
    old, _ = load_graph(home.snapshots.path("v1"))
    new, _ = load_graph(home.snapshots.path(_publish_with_codes(home, "v1")))
    assert old.edge_index.keys() == new.edge_index.keys()
    for et in old.edge_index:
        assert _edge_set(old.edge_index[et]) == _edge_set(new.edge_index[et])
        pairs_old = sorted(zip(map(tuple, old.edge_index[et].t().tolist()), old.edge_weight[et].tolist()))
        pairs_new = sorted(zip(map(tuple, new.edge_index[et].t().tolist()), new.edge_weight[et].tolist()))
        assert pairs_old == pairs_new
    assert torch.equal(old.x, new.x)


def test_older_snapshots_get_the_codes_the_build_writes(home: Home) -> None:
    snap = home.snapshots.path("v1")
    ids = read_accounts(snap)["account_id"]
    joined = with_node_codes(load_relations(snap), ids)
    for name, table in load_relations(snap).items():
        stored = build_codes(table, ids).sort("src", "dst")
        assert joined[name].sort("src", "dst").select(*NODE_CODES).equals(stored.select(*NODE_CODES))
        assert (ids.gather(stored[NODE_CODES[0]]) == stored["src"]).all()
    codes_only = load_relations(home.snapshots.path(_publish_with_codes(home, "v1")), ids=False)
    assert all(set(t.columns) == {"count", *NODE_CODES} for t in codes_only.values())


def test_edges_to_unknown_accounts_are_dropped_either_way(home: Home) -> None:
    member = "r0"
    stored = load_graph(home.snapshots.path(_publish_with_codes(home, "v1", drop=member)))[0]
    with_ghost = {name: t.drop(*NODE_CODES) for name, t in load_relations(home.snapshots.path()).items()}
    joined = load_graph(home.snapshots.path(), tables=with_ghost)[0]
    for et in stored.edge_index:
        assert _edge_set(stored.edge_index[et]) == _edge_set(joined.edge_index[et])
    assert stored.edge_index[("account", "coaction", "account")].shape[1] < 2 * 28


def test_codes_that_do_not_fit_the_accounts_are_a_clear_error(home: Home) -> None:
    snap = home.snapshots.path(_publish_with_codes(home, "v1"))
    tables = load_relations(snap, ids=False)
    tables["follow"] = tables["follow"].with_columns(pl.lit(10_000, dtype=pl.Int64).alias(NODE_CODES[1]))
    with pytest.raises(InputError, match="node codes"):
        load_graph(snap, tables=tables)


def test_in_place_transform_equals_the_formula() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 5, (50, 3)).astype(np.float32)
    x[0, 0], x[1, 1], x[2, 2] = 0.0, np.nan, -np.inf
    frame = pl.DataFrame({f"f{j}": x[:, j] for j in range(3)})
    stats = FeatureStats.fit(frame.fill_nan(0.0).with_columns(pl.all().clip(-1e6, 1e6)), ["f0", "f1", "f2"])
    ref = np.sign(x) * np.log1p(np.abs(x))
    ref = (ref - np.asarray(stats.mean, np.float32)) / np.asarray(stats.std, np.float32)
    assert np.array_equal(stats.transform(frame).numpy(), np.nan_to_num(ref, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32))


def test_scores_from_stored_codes_equal_scores_from_the_join(home: Home) -> None:
    train(home, tiny_labels(), FAST)
    coded = _publish_with_codes(home, "v1")
    outputs = []
    for snapshot in ("v1", coded):
        score(home, snapshot=snapshot)
        d = home.scores.path()
        outputs.append([pl.read_parquet(d / t).sort("account_id") if t != RINGS_TABLE else pl.read_parquet(d / t)
                        for t in (SCORES_TABLE, RINGS_TABLE, EXPLANATIONS_TABLE)])
    (s1, r1, e1), (s2, r2, e2) = outputs
    assert s1.equals(s2) and r1.equals(r2)
    assert e1["reasons"].equals(e2["reasons"])
    for a, b in zip(e1["top_neighbors"], e2["top_neighbors"]):  # equal weights; ties may list either neighbour
        assert sorted(n["weight"] for n in json.loads(a)) == sorted(n["weight"] for n in json.loads(b))


def test_top_neighbors_match_a_brute_force_ranking(home: Home) -> None:
    from gnn.reasons import top_neighbors

    snap = home.snapshots.path()
    accounts = read_accounts(snap)
    ids = accounts["account_id"].to_numpy()
    tables = load_relations(snap)
    risk = np.random.default_rng(1).random(len(ids)).astype(np.float32)
    nodes = np.array([0, 3, len(ids) - 1])
    got = top_neighbors(ids, risk, with_node_codes(tables, accounts["account_id"]), nodes, k=3)
    pos = {a: i for i, a in enumerate(ids)}
    for node, row in zip(nodes, got.iter_rows(named=True)):
        want = []
        for name, t in tables.items():
            for s, d, c in t.select("src", "dst", "count").iter_rows():
                for a, b in ((s, d), (d, s)):
                    if a == ids[node]:
                        want.append((round(float(np.log1p(float(c)) * np.float64(risk[pos[b]])), 4), b, name))
        want = sorted(want, reverse=True)[:3]
        assert row["account_id"] == ids[node]
        assert [(n["weight"], n["account_id"], n["relation"]) for n in json.loads(row["top_neighbors"])] == want
    # the answers relation names no neighbour that drove a score (a patroller's run to the vandals it reverted)
    answered = {**tables, "answers": pl.DataFrame({"src": [ids[0], ids[3]], "dst": [ids[1], ids[0]], "count": [50, 50]})}
    with_answers = top_neighbors(ids, risk, with_node_codes(answered, accounts["account_id"]), nodes, k=3)
    assert with_answers.equals(got)
