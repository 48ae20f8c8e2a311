"""Mapping arbitrary logs onto the canonical schema without code."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from graphs.mapping import EventMapping
from ringwatch.errors import ConfigError

WIKI_TOML = """
[columns]
actor_id = "u"
target_content_id = "i"
ts = "ts"
[constants]
event_type = "edit"
[labels]
column = "label"
[time]
unit = "s"
origin = 1700000000
"""


def test_wikipedia_style_mapping(tmp_path: Path) -> None:
    path = tmp_path / "wiki.toml"
    path.write_text(WIKI_TOML)
    mapping = EventMapping.from_toml(path)
    out = mapping.apply(pl.DataFrame({"u": [1, 2], "i": [8227, 8228], "ts": [0, 60], "label": [0, 1]}))
    assert out["actor_id"].to_list() == [1, 2]
    assert out["event_type"].to_list() == ["edit", "edit"]
    assert out["ts"].to_list() == [1700000000, 1700000060]
    assert out["_label"].to_list() == [0, 1]
    assert out["device_id"].null_count() == 2


def test_sign_of_a_rating_picks_the_event_type_and_keeps_the_weight() -> None:
    mapping = EventMapping(columns={"actor_id": "rater", "target_account_id": "ratee", "ts": "t"}, sign_column="rating")
    out = mapping.apply(pl.DataFrame({"rater": ["a", "b"], "ratee": ["c", "c"], "t": [1, 2], "rating": [5, -3]}))
    assert out["event_type"].to_list() == ["rate_pos", "rate_neg"]
    assert out["weight"].to_list() == [5, -3]


def test_unknown_canonical_column_and_missing_source_column_are_explained() -> None:
    with pytest.raises(ConfigError, match="unknown canonical columns"):
        EventMapping(columns={"user": "u"})
    with pytest.raises(ConfigError, match="has no column"):
        EventMapping(columns={"actor_id": "u"}).apply(pl.DataFrame({"x": [1]}))
