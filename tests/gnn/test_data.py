"""Tests for :mod:`gnn.data`: the account-id → node-row lookup and where relations load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from gnn.data import NODE_ROW, FeatureStats, load_graph, load_relations, with_node_rows
from ringwatch.types import SNAPSHOT_FORMAT
from ringwatch.versions import MANIFEST, Home
from tests.gnn.tiny import publish_tiny

IDS = np.array(["a", "b", "c", "d"])


def test_rows_are_node_positions_in_the_frames_order() -> None:
    frame = pl.DataFrame({"account_id": ["d", "a", "c"], "label": [1, 0, 1]})
    out = with_node_rows(IDS, frame)
    assert out["account_id"].to_list() == ["d", "a", "c"]
    assert out[NODE_ROW].to_list() == [3, 0, 2]
    assert out["label"].to_list() == [1, 0, 1]
    assert out[NODE_ROW].dtype == pl.Int64


def test_accounts_outside_the_graph_are_dropped() -> None:
    frame = pl.DataFrame({"account_id": ["zz", "b", "yy"], "label": [1, 0, 1]})
    out = with_node_rows(IDS, frame)
    assert out.select("account_id", NODE_ROW).rows() == [("b", 1)]


def test_an_empty_frame_or_graph_gives_no_rows() -> None:
    empty = pl.DataFrame({"account_id": pl.Series([], dtype=pl.String)})
    assert with_node_rows(IDS, empty).height == 0
    assert with_node_rows(np.array([], dtype=str), pl.DataFrame({"account_id": ["a"]})).height == 0


def test_the_answers_relation_is_loaded_beside_the_message_passing_edges(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    publish_tiny(home)
    snap = home.snapshots.path()
    tables = load_relations(snap)
    tables["answers"] = pl.DataFrame({"src": ["n01", "n02", "r0"], "dst": ["r1", "r1", "n05"], "count": [1, 2, 1]})
    graph, _ = load_graph(snap, tables=tables)
    assert not any("answers" in et[1] for et in graph.edge_index)  # no GNN messages, no union adjacency
    rows = {a: i for i, a in enumerate(graph.account_ids)}
    got = sorted(zip(*graph.side["answers"].tolist()))
    assert got == sorted([(rows["n01"], rows["r1"]), (rows["n02"], rows["r1"]), (rows["r0"], rows["n05"])])
    plain, _ = load_graph(snap)
    assert plain.side == {} and plain.edge_index.keys() == graph.edge_index.keys()


def test_a_snapshot_built_before_the_answers_relation_keeps_an_answers_event_type_as_edges(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    publish_tiny(home)
    snap = home.snapshots.path()
    tables = load_relations(snap)
    tables["answers"] = pl.DataFrame({"src": ["n01"], "dst": ["r1"], "count": [1]})
    manifest = json.loads((snap / MANIFEST).read_text())
    for fmt, as_side in ((None, False), (1, False), (SNAPSHOT_FORMAT, True)):
        built = {**manifest, "code_version": "0.1.0+abc"} | ({"format": fmt} if fmt is not None else {})
        (snap / MANIFEST).write_text(json.dumps(built))
        graph, _ = load_graph(snap, tables=tables)
        assert ("answers" in graph.side) == as_side  # before: an event type's own edges, passed as messages
        assert any(et[1] == "answers" for et in graph.edge_index) != as_side


def test_a_missing_or_infinite_feature_value_leaves_the_others_their_statistics() -> None:
    clean = pl.DataFrame({"f": [1.0, 2.0, 3.0, 4.0], "g": [0.0, 1.0, 0.0, 1.0]})
    holes = pl.DataFrame({"f": [1.0, 2.0, 3.0, 4.0, None, float("inf")], "g": [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]})
    a, b = FeatureStats.fit(clean, ["f", "g"]), FeatureStats.fit(holes, ["f", "g"])
    assert np.allclose(a.mean[0], b.mean[0]) and np.allclose(a.std[0], b.std[0])
    x = b.transform(holes).numpy()
    assert np.isfinite(x).all()
    assert np.allclose(x[:4, 0], a.transform(clean).numpy()[:, 0], atol=1e-6)
    assert x[4, 0] == 0.0 and x[5, 0] == 0.0  # at the mean, not far below every other account
    far = FeatureStats.fit(pl.DataFrame({"f": [100.0, 120.0, 140.0]}), ["f"])
    lacking = far.transform(pl.DataFrame({"g": [1.0, 2.0]})).numpy()  # a column the frame lacks reads a raw 0:
    assert np.allclose(lacking, far.transform(pl.DataFrame({"f": [0.0, 0.0]})).numpy())  # the build counted none
    empty = FeatureStats.fit(pl.DataFrame({"f": [None, None]}, schema={"f": pl.Float64}), ["f"])
    assert empty.mean == [0.0] and empty.std == [1.0]
