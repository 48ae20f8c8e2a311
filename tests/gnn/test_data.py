"""Tests for :mod:`gnn.data`'s account-id → node-row lookup."""

from __future__ import annotations

import numpy as np
import polars as pl

from gnn.data import NODE_ROW, with_node_rows

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
