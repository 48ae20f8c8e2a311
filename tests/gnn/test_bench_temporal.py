"""The temporal (Wikipedia) protocol's user table: one row per editor, in an order that never varies."""

from __future__ import annotations

import polars as pl

from gnn.bench_temporal import user_table


def test_user_table_is_sorted_and_independent_of_row_order() -> None:
    ev = pl.DataFrame({"u": [3, 1, 2, 1, 3, 2, 10], "ts": [5, 1, 2, 7, 9, 4, 8], "label": [0, 0, 0, 0, 1, 0, 0]})
    table = user_table(ev)
    assert table["u"].to_list() == ["1", "10", "2", "3"]
    assert table["first"].to_list() == [1, 8, 2, 5]
    assert table["ban"].to_list() == [None, None, None, 9]
    for seed in range(5):
        assert user_table(ev.sample(fraction=1.0, shuffle=True, seed=seed)).equals(table)
