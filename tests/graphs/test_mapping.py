"""Mapping arbitrary logs onto the canonical schema without code."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from graphs.mapping import EventMapping
from graphs.validate import normalise, split
from ringwatch.errors import ConfigError

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)

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


def test_relative_times_may_be_fractional_or_milliseconds_and_a_bad_one_keeps_its_text() -> None:
    rows = pl.DataFrame({"u": ["a", "b", "c"], "ts": ["36.0", " 77.5", "soon"]})
    good, bad = split(normalise(EventMapping(columns={"actor_id": "u", "ts": "ts"}, constants={"event_type": "edit"},
                                             ts_unit="s", ts_origin=1_700_000_000).apply(rows)), NOW)
    assert good["ts"].dt.epoch("s").to_list() == [1_700_000_036, 1_700_000_078]
    assert bad.select("actor_id", "_raw_ts", "reason").rows() == [("c", "soon", "bad_timestamp")]
    ms = EventMapping(columns={"actor_id": "u", "ts": "ts"}, constants={"event_type": "edit"}, ts_unit="ms",
                      ts_origin=1_700_000_000)
    good, _ = split(normalise(ms.apply(pl.DataFrame({"u": ["a"], "ts": [1500]})), "ms"), NOW)
    assert good["ts"].dt.epoch("ms").to_list() == [1_700_000_001_500]


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


def test_a_rating_that_is_not_a_number_gives_no_event_type() -> None:
    mapping = EventMapping(columns={"actor_id": "rater", "ts": "t"}, sign_column="rating")
    out = mapping.apply(pl.DataFrame({"rater": ["a", "b", "c"], "t": [1, 2, 3], "rating": ["5", None, "n/a"]}))
    assert out["event_type"].to_list() == ["rate_pos", None, None]  # quarantined as missing_event_type, not negative


@pytest.mark.parametrize(("toml", "message"), [
    ('columns = "u"', "columns must be a \\[columns\\] table"),
    ('[columns]\nactor_id = ["u"]', "\\[columns\\] actor_id = \\['u'\\]: expected str values"),
    ("[constants]\nevent_type = [1, 2]", "\\[constants\\] event_type"),
    ("[sign_map]\ncolumn = { name = 'r' }", "\\[sign_map\\] column"),
    ('[time]\norigin = "last spring"', "origin = 'last spring': expected epoch seconds or an ISO date"),
])
def test_a_mapping_file_of_the_wrong_shape_is_one_clear_error(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=message):
        EventMapping.from_toml(path)


def test_an_origin_may_be_an_iso_date(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    for origin in ('"2014-01-01"', "2014-01-01", "2014-01-01T00:00:00Z", '"2014-01-01T01:00:00+01:00"', "1388534400.0"):
        path.write_text(f'[time]\nunit = "s"\norigin = {origin}\n')
        assert EventMapping.from_toml(path).ts_origin == 1_388_534_400, origin
