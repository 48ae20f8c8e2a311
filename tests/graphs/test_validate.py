"""Normalisation and quarantine rules on hand-made rows."""

from __future__ import annotations

import datetime as dt

import polars as pl

from graphs.mapping import EventMapping
from graphs.validate import normalise, split

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def _split(rows: dict[str, list[object]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return split(normalise(EventMapping().apply(pl.DataFrame(rows, strict=False))), NOW)


def test_each_rule_quarantines_with_its_reason() -> None:
    good, bad = _split({
        "ts": ["2026-10-01T00:00:00Z", "2026-10-01", "not a time", "2030-01-01", "1700000000", "1700000000000", "1700000000", "1700000000"],
        "actor_id": ["a", None, "c", "d", "e", "f", "g", "h"],
        "event_type": ["Like", "like", "like", "like", None, "follow", "follow", "like"],
        "target_account_id": ["b", "b", "b", "b", "b", "f", "x", "x"],
        "weight": ["1.5", None, None, None, None, None, "oops", "1e300"],
    })
    assert good["actor_id"].to_list() == ["a"]
    assert good["event_type"].to_list() == ["like"]
    assert dict(zip(bad["actor_id"].to_list(), bad["reason"].to_list())) == {
        None: "missing_actor", "c": "bad_timestamp", "d": "future_timestamp", "e": "missing_event_type",
        "f": "self_interaction", "g": "bad_weight", "h": "absurd_weight",
    }


def test_account_ids_the_service_could_not_be_asked_for_are_quarantined() -> None:
    good, bad = _split({
        "ts": ["2026-10-01T00:00:00Z"] * 6,
        "actor_id": ["plain", "ü-name", "fam\u200dily", "x" * 129, "ok", "tab\tbed"],
        "event_type": ["like"] * 6,
        "target_account_id": ["b", "b", "b", "b", "nb\xa0sp", None],
    })
    assert good["actor_id"].to_list() == ["plain", "ü-name"]
    assert bad["reason"].unique().to_list() == ["bad_account_id"] and bad.height == 4


def test_timestamps_in_seconds_millis_and_iso_agree() -> None:
    good, bad = _split({
        "ts": ["1700000000", "1700000000000", "2023-11-14T22:13:20Z", "2023-11-15T00:13:20+02:00"],
        "actor_id": ["a", "b", "c", "d"], "event_type": ["like"] * 4,
    })
    assert bad.is_empty()
    assert good["ts"].n_unique() == 1
    assert good["ts"][0] == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc)


def test_integer_ids_become_strings_and_liking_own_content_is_fine() -> None:
    good, bad = _split({"ts": [1700000000], "actor_id": [7], "event_type": ["like"], "target_account_id": [7]})
    assert bad.is_empty()
    assert good["actor_id"].to_list() == ["7"]


def test_an_epoch_beyond_any_real_time_is_a_bad_timestamp_not_a_wrapped_date() -> None:
    good, bad = _split({"ts": [9_300_000_000_000_000, 18_448_444_073_709_551, -(2**63), 1_700_000_000],
                        "actor_id": ["huge", "wraps", "smallest", "fine"], "event_type": ["like"] * 4})
    assert good["actor_id"].to_list() == ["fine"]
    assert dict(zip(bad["actor_id"].to_list(), bad["reason"].to_list())) == {
        "huge": "bad_timestamp", "wraps": "bad_timestamp", "smallest": "bad_timestamp"}
    assert bad["ts"].null_count() == 3  # no date made up for them: the quarantine shows the raw value


def test_nanosecond_times_read_as_microseconds() -> None:
    frame = pl.DataFrame({"ts": [dt.datetime(2026, 10, 1, 12)], "actor_id": ["a"], "event_type": ["like"]}).with_columns(
        pl.col("ts").dt.cast_time_unit("ns"))  # pandas' default
    good, _ = split(normalise(EventMapping().apply(frame)), NOW)
    assert good.schema["ts"] == pl.Datetime("us", "UTC") and good["ts"][0] == dt.datetime(2026, 10, 1, 12, tzinfo=dt.timezone.utc)


def test_weights_are_stripped_like_ids_and_a_blank_one_is_no_weight() -> None:
    good, bad = _split({"ts": ["1700000000"] * 4, "actor_id": ["a", "b", "c", "d"], "event_type": ["rate"] * 4,
                        "weight": [" 4", "4 ", " ", "four"]})
    assert good.select("actor_id", "weight").rows() == [("a", 4.0), ("b", 4.0), ("c", None)]
    assert bad.select("actor_id", "reason").rows() == [("d", "bad_weight")]


def test_iso_times_without_seconds_read() -> None:
    good, bad = _split({"ts": ["2026-10-01T12:30", "2026-10-01 12:30", "2026-10-01T14:30+02:00", "2026-10-01 14:30+02:00"],
                        "actor_id": ["a", "b", "c", "d"], "event_type": ["like"] * 4})
    assert bad.is_empty() and good["ts"].n_unique() == 1
    assert good["ts"][0] == dt.datetime(2026, 10, 1, 12, 30, tzinfo=dt.timezone.utc)
