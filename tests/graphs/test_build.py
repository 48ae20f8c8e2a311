"""The Ray build job end to end on tiny logs in every supported format."""

from __future__ import annotations

import datetime as dt
import fcntl
import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from graphs import build
from graphs.build import BuildParams, build_snapshot
from graphs.mapping import EventMapping
from ringwatch.errors import BadRowsError, ConfigError, InputError
from ringwatch.types import SNAPSHOT_ACCOUNTS, SNAPSHOT_FORMAT
from ringwatch.versions import Home, locked

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)
DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def _rows(n_bad: int = 0) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i, actor in enumerate(["a", "b", "c"]):  # lockstep: a, b, c like video v1 and v2 within minutes
        for j, video in enumerate(["v1", "v2"]):
            rows.append({"ts": (T0 + dt.timedelta(hours=j, seconds=10 * i)).isoformat(), "actor_id": actor,
                         "event_type": "like", "target_account_id": "creator", "target_content_id": video,
                         "device_id": "farm-1", "event_id": f"{actor}-{video}"})
    rows.append({"ts": T0.isoformat(), "actor_id": "d", "event_type": "follow", "target_account_id": "a", "device_id": "home-7"})
    rows.append({"ts": T0.isoformat(), "actor_id": "a", "event_type": "follow", "target_account_id": "d", "device_id": "farm-1"})
    for k in range(n_bad):
        rows.append({"ts": "garbage", "actor_id": f"x{k}", "event_type": "like"})
    return rows


def _write(tmp: Path, rows: list[dict[str, object]]) -> Path:
    """Split rows over a Parquet, a gzipped CSV and a JSONL file."""
    d = tmp / "events"
    d.mkdir(parents=True, exist_ok=True)
    third = len(rows) // 3
    frame = pl.DataFrame(rows, infer_schema_length=None)
    frame[:third].write_parquet(d / "part-1.parquet")
    with gzip.open(d / "part-2.csv.gz", "wb") as fh:
        frame[third: 2 * third].write_csv(fh)
    (d / "part-3.jsonl").write_text("\n".join(json.dumps(r) for r in rows[2 * third:]) + "\n")
    return d


def test_build_publishes_snapshot_with_relations_and_features(tmp_path: Path, ray_local: None) -> None:
    home = Home(tmp_path / "home")
    # an event type named like a relation the build derives keeps its edges under another name
    named_like_answers = {"ts": T0.isoformat(), "actor_id": "d", "event_type": "answers", "target_account_id": "c"}
    # and types whose names meet ("Answers Event" is answers_event too) share one relation, their pairs merged
    meeting = {"ts": (T0 + dt.timedelta(hours=1)).isoformat(), "actor_id": "d", "event_type": "Answers Event",
               "target_account_id": "c"}
    manifest = build_snapshot(home, BuildParams(events=[str(_write(tmp_path, _rows() + [named_like_answers, meeting]))],
                                                coaction_window_s=300))
    assert manifest["version"] == "v1" and home.snapshots.current() == "v1"
    assert manifest["counts"]["events"] == 10 and manifest["counts"]["bad_rows"] == 0
    assert manifest["format"] == SNAPSHOT_FORMAT  # so readers know the answers relation is derived
    snap = home.snapshots.path()
    home.snapshots.verify()
    accounts = pl.read_parquet(snap / SNAPSHOT_ACCOUNTS)
    assert sorted(accounts["account_id"]) == ["a", "b", "c", "creator", "d"]
    co = pl.read_parquet(snap / "relations" / "coaction.parquet")
    assert co.select("src", "dst", "count").sort("src", "dst").rows() == [("a", "b", 2), ("a", "c", 2), ("b", "c", 2)]
    dev = pl.read_parquet(snap / "relations" / "shared_device.parquet")
    assert dev.height == 3
    follow = pl.read_parquet(snap / "relations" / "follow.parquet")
    assert follow.select("src", "dst").sort("src").rows() == [("a", "d"), ("d", "a")]
    # on v1 and on v2, b liked 10 s after a and c 10 s after b: each answered the one before, twice
    answers = pl.read_parquet(snap / "relations" / "answers.parquet")
    assert answers.select("src", "dst", "count").sort("src").rows() == [("b", "a", 2), ("c", "b", 2)]
    answered_events = pl.read_parquet(snap / "relations" / "answers_event.parquet")
    assert answered_events.select("src", "dst", "count").rows() == [("d", "c", 2)]
    assert answered_events["last_ts"][0] - answered_events["first_ts"][0] == dt.timedelta(hours=1)
    a = accounts.filter(pl.col("account_id") == "a").row(0, named=True)
    assert a["n_like"] == 2 and a["n_follow"] == 1 and a["follow_reciprocity"] == 1.0
    assert a["coaction_degree"] == 2 and a["accounts_per_device_max"] == 3
    assert accounts.filter(pl.col("account_id") == "creator")["in_degree"][0] == 3


def test_bad_rows_are_quarantined_with_reasons(tmp_path: Path, ray_local: None) -> None:
    home = Home(tmp_path / "home")
    rows = _rows(n_bad=1) + [dict(_rows()[0])]  # one unparseable time, one duplicate event id
    manifest = build_snapshot(home, BuildParams(events=[str(_write(tmp_path, rows))], max_bad_fraction=0.5))
    assert manifest["quarantine"]["reasons"] == {"bad_timestamp": 1, "duplicate_event_id": 1}
    q = pl.read_parquet(manifest["quarantine"]["path"])
    assert sorted(q["reason"].to_list()) == ["bad_timestamp", "duplicate_event_id"]
    assert manifest["counts"]["events"] + manifest["counts"]["bad_rows"] == manifest["counts"]["rows"]


def test_a_malformed_line_is_quarantined_not_the_whole_file(tmp_path: Path, ray_local: None) -> None:
    home = Home(tmp_path / "home")
    d = tmp_path / "events"
    d.mkdir()
    pl.DataFrame(_rows()).write_csv(d / "day.csv")
    with (d / "day.csv").open("a") as fh:
        fh.write(f"{T0.isoformat()},e,like,creator,v1,farm-1,e-v1,EXTRA\n")  # one field too many
    manifest = build_snapshot(home, BuildParams(events=[str(d)], max_bad_fraction=0.2))
    assert manifest["quarantine"]["reasons"] == {"malformed_row": 1}
    assert manifest["counts"]["rows"] == len(_rows()) + 1 and manifest["counts"]["events"] == len(_rows())
    q = pl.read_parquet(manifest["quarantine"]["path"]).to_dicts()
    assert [(r["reason"], r["line"], r["raw_line"].endswith(",EXTRA")) for r in q] == [("malformed_row", len(_rows()) + 2, True)]


def test_too_many_bad_rows_fail_and_keep_the_last_good_snapshot(tmp_path: Path, ray_local: None) -> None:
    home = Home(tmp_path / "home")
    build_snapshot(home, BuildParams(events=[str(_write(tmp_path / "good", _rows()))]))
    with pytest.raises(BadRowsError, match=r"bad_timestamp=5"):
        build_snapshot(home, BuildParams(events=[str(_write(tmp_path / "bad", _rows(n_bad=5)))], max_bad_fraction=0.1))
    assert home.snapshots.current() == "v1" and home.snapshots.versions() == ["v1"]
    home.snapshots.verify()


def test_missing_and_empty_inputs_are_clear_errors(tmp_path: Path, ray_local: None) -> None:
    home = Home(tmp_path / "home")
    with pytest.raises(InputError, match="does not exist"):
        build_snapshot(home, BuildParams(events=[str(tmp_path / "nope")]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no event files"):
        build_snapshot(home, BuildParams(events=[str(tmp_path / "empty")]))
    pl.DataFrame({"ts": [], "actor_id": [], "event_type": []}, schema={"ts": pl.String, "actor_id": pl.String, "event_type": pl.String}).write_parquet(tmp_path / "empty" / "e.parquet")
    with pytest.raises(InputError, match="no valid events"):
        build_snapshot(home, BuildParams(events=[str(tmp_path / "empty")]))
    assert home.snapshots.current() is None


@pytest.mark.skipif(not (DATASETS / "jodie-wikipedia").is_dir(), reason="../shared/datasets/jodie-wikipedia is absent")
def test_wikipedia_log_builds_through_a_mapping_file(tmp_path: Path, ray_local: None) -> None:
    mapping = EventMapping.from_toml(Path(__file__).resolve().parents[2] / "graphs" / "mappings" / "wikipedia.toml")
    home = Home(tmp_path / "home")
    manifest = build_snapshot(home, BuildParams(events=[str(DATASETS / "jodie-wikipedia" / "wikipedia_events.csv.gz")],
                                                mapping=mapping))
    assert manifest["counts"]["rows"] == 157_474
    assert manifest["counts"]["events"] + manifest["counts"]["bad_rows"] == 157_474
    labels = pl.read_parquet(home.snapshots.path() / "log_labels.parquet")
    assert labels["label"].sum() == 217
    accounts = pl.read_parquet(home.snapshots.path() / SNAPSHOT_ACCOUNTS)
    assert accounts.height == 8_227
    assert (home.snapshots.path() / "relations" / "coaction.parquet").is_file()


def _day(day: int) -> list[dict[str, object]]:
    """A day of lockstep likes by a, b, c plus some organic follows."""
    t = T0 + dt.timedelta(days=day)
    rows = [{"ts": (t + dt.timedelta(seconds=20 * i)).isoformat(), "actor_id": a, "event_type": "like",
             "target_account_id": "creator", "target_content_id": f"v{day}", "device_id": f"dev-{a}", "event_id": f"{day}-{a}"}
            for i, a in enumerate("abc")]
    rows += [{"ts": (t + dt.timedelta(hours=3 + k)).isoformat(), "actor_id": f"u{k}", "event_type": "follow",
              "target_account_id": f"u{(k + day + 1) % 6}", "device_id": f"home-{k}", "event_id": f"{day}-f{k}"} for k in range(5)]
    return rows


def _write_day(d: Path, day: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(_day(day)).write_parquet(d / f"day-{day}.parquet")


def _tables(home: Home) -> dict[str, pl.DataFrame]:
    snap = home.snapshots.path()
    return {p.relative_to(snap).as_posix(): pl.read_parquet(p) for p in sorted(snap.rglob("*.parquet"))}


def test_incremental_build_reuses_prepared_days_and_equals_a_full_build(tmp_path: Path, ray_local: None) -> None:
    logs = tmp_path / "logs"
    for day in (0, 1):
        _write_day(logs, day)
    inc = Home(tmp_path / "incremental")
    build_snapshot(inc, BuildParams(events=[str(logs)], n_buckets=4))
    _write_day(logs, 2)
    manifest = build_snapshot(inc, BuildParams(events=[str(logs)], n_buckets=4))
    assert manifest["reused"]["files"] == 2  # only the new day was prepared
    full = Home(tmp_path / "full")
    full_manifest = build_snapshot(full, BuildParams(events=[str(logs)], n_buckets=4))
    assert full_manifest["reused"]["files"] == 0
    a, b = _tables(inc), _tables(full)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].equals(b[name]), name
    assert a["relations/coaction.parquet"].height == 3


def test_a_new_aggregate_format_reuses_prepared_files_and_a_new_prepare_format_does_not(
        tmp_path: Path, ray_local: None, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = tmp_path / "logs"
    for day in (0, 1):
        _write_day(logs, day)
    home = Home(tmp_path / "home")
    params = BuildParams(events=[str(logs)], n_buckets=4)
    build_snapshot(home, params)
    monkeypatch.setattr(build, "AGGREGATE_FORMAT", build.AGGREGATE_FORMAT + 1)
    assert build_snapshot(home, params)["reused"] == {"files": 2, "buckets": 0}  # an upgrade re-aggregates only
    monkeypatch.setattr(build, "PREPARE_FORMAT", build.PREPARE_FORMAT + 1)
    assert build_snapshot(home, params)["reused"] == {"files": 0, "buckets": 0}


def test_failed_run_is_resumed_without_redoing_finished_work(tmp_path: Path, ray_local: None) -> None:
    logs = tmp_path / "logs"
    for day in (0, 1, 2):
        _write_day(logs, day)
    pl.DataFrame([{"ts": "never", "actor_id": "z", "event_type": "like"}] * 3).write_parquet(logs / "garbage.parquet")
    home = Home(tmp_path / "home")
    with pytest.raises(BadRowsError):
        build_snapshot(home, BuildParams(events=[str(logs)], n_buckets=4, max_bad_fraction=0.01))
    assert home.snapshots.current() is None
    manifest = build_snapshot(home, BuildParams(events=[str(logs)], n_buckets=4, max_bad_fraction=0.2))
    assert manifest["reused"] == {"files": 4, "buckets": 4}
    assert manifest["quarantine"]["reasons"] == {"bad_timestamp": 3}


def test_accounts_table_gives_true_account_age(tmp_path: Path, ray_local: None) -> None:
    table = tmp_path / "accounts.csv"
    table.write_text("account_id,created_at\na,2026-10-22T12:00:00Z\nc,2026-10-22\n007,2025-11-01T12:00:00Z\n"
                     "d,someday\nzz,2020-01-01T00:00:00Z\n")
    rows = _rows() + [{"ts": T0.isoformat(), "actor_id": "007", "event_type": "follow", "target_account_id": "a"}]
    home = Home(tmp_path / "home")
    manifest = build_snapshot(home, BuildParams(events=[str(_write(tmp_path, rows))], accounts_table=str(table)))
    accounts = pl.read_parquet(home.snapshots.path() / SNAPSHOT_ACCOUNTS)
    age = dict(zip(accounts["account_id"], accounts["account_age_days"]))
    after = 1 / 24 + 20 / 86400  # the last event's time after T0
    assert age["a"] == pytest.approx(10.0 + after, abs=1e-3)  # created 10 days before the last event
    assert age["c"] == pytest.approx(10.5 + after, abs=1e-3)  # a date alone is its midnight, UTC
    assert age["007"] == pytest.approx(365 + after, abs=1e-3)  # the id read as text: 007, not 7
    for observed in ("b", "d"):  # not in the table; an unreadable created_at
        assert age[observed] == pytest.approx(accounts.filter(pl.col("account_id") == observed)["observed_age_days"][0])
    assert manifest["counts"]["accounts_table"] == {"rows": 5, "unreadable_created_at": 1, "matched_accounts": 3}
    with pytest.raises(InputError, match="accounts table"):
        build_snapshot(home, BuildParams(events=[str(tmp_path / "events")], accounts_table=str(tmp_path / "missing.csv")))


def _like(actor: str, at: dt.datetime, event_id: str | None = None, video: str = "v1") -> dict[str, object]:
    return {"ts": at.isoformat(), "actor_id": actor, "event_type": "like", "target_account_id": "creator",
            "target_content_id": video, "event_id": event_id}


def test_a_duplicate_across_files_counts_once_on_the_target_side_too(tmp_path: Path, ray_local: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    pl.DataFrame([_like("a", T0, "e1"), _like("b", T0 + dt.timedelta(seconds=10), "e2")]).write_parquet(logs / "one.parquet")
    pl.DataFrame([_like("a", T0, "e1")]).write_parquet(logs / "two.parquet")  # the same event, delivered twice
    manifest = build_snapshot(Home(tmp_path / "home"), BuildParams(events=[str(logs)], max_bad_fraction=0.5, n_buckets=4))
    assert manifest["quarantine"]["reasons"] == {"duplicate_event_id": 1}
    accounts = pl.read_parquet(Home(tmp_path / "home").snapshots.path() / SNAPSHOT_ACCOUNTS)
    # a's one like was answered by b; its copy must not make a answer itself
    assert accounts.filter(pl.col("account_id") == "a")["share_answered"][0] == 1.0


def test_rows_once_in_the_future_are_judged_again_by_a_later_build(tmp_path: Path, ray_local: None,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    now = dt.datetime.now(dt.timezone.utc)
    rows = [_like(a, now - dt.timedelta(hours=1, seconds=i)) for i, a in enumerate("abcdefghij")]
    pl.DataFrame(rows + [_like("z", now + dt.timedelta(days=2))]).write_parquet(logs / "day.parquet")
    home = Home(tmp_path / "home")
    first = build_snapshot(home, BuildParams(events=[str(logs)], max_bad_fraction=0.2, n_buckets=4))
    assert first["quarantine"]["reasons"] == {"future_timestamp": 1}

    class ThreeDaysOn(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # noqa: D102
            return dt.datetime.now(tz) + dt.timedelta(days=3)

    monkeypatch.setattr(build, "dt", type("Clock", (), {"datetime": ThreeDaysOn, "timezone": dt.timezone,
                                                         "timedelta": dt.timedelta}))
    later = build_snapshot(home, BuildParams(events=[str(logs)], max_bad_fraction=0.2, n_buckets=4))
    assert later["quarantine"]["reasons"] == {} and later["counts"]["events"] == 11  # as a full build would
    assert later["reused"]["files"] == 0
    again = build_snapshot(home, BuildParams(events=[str(logs)], max_bad_fraction=0.2, n_buckets=4))
    assert again["reused"]["files"] == 1 and again["counts"]["events"] == 11  # judged once more, then reused


def test_a_row_that_never_comes_due_leaves_its_file_reused(tmp_path: Path, ray_local: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    now = dt.datetime.now(dt.timezone.utc)
    rows = [_like(a, now - dt.timedelta(hours=1, seconds=i)) for i, a in enumerate("abcdefghij")]
    pl.DataFrame(rows + [_like("z", dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc))]).write_parquet(logs / "day.parquet")
    home = Home(tmp_path / "home")
    build_snapshot(home, BuildParams(events=[str(logs)], max_bad_fraction=0.2, n_buckets=4))
    again = build_snapshot(home, BuildParams(events=[str(logs)], max_bad_fraction=0.2, n_buckets=4))
    assert again["reused"] == {"files": 1, "buckets": 4} and again["quarantine"]["reasons"] == {"future_timestamp": 1}


def test_bad_rows_dated_outside_the_window_are_not_this_builds(tmp_path: Path, ray_local: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    old = [{**_like(f"o{i}", T0 - dt.timedelta(days=400)), "weight": "heavy"} for i in range(20)]  # bad_weight, long ago
    recent = [_like(f"r{i}", T0 + dt.timedelta(seconds=i)) for i in range(10)]
    pl.DataFrame(old + recent + [{**_like("x", T0), "ts": "never"}]).write_parquet(logs / "all.parquet")
    manifest = build_snapshot(Home(tmp_path / "home"), BuildParams(
        events=[str(logs)], since=T0 - dt.timedelta(days=1), max_bad_fraction=0.1, n_buckets=4))
    assert manifest["quarantine"]["reasons"] == {"bad_timestamp": 1}  # an unreadable time is every window's
    assert manifest["counts"]["out_of_window"] == 20 and manifest["counts"]["events"] == 10


def test_a_tasks_own_error_is_one_line(tmp_path: Path, ray_local: None) -> None:
    logs = _write(tmp_path, _rows())
    with pytest.raises(ConfigError) as info:
        build_snapshot(Home(tmp_path / "home"), BuildParams(events=[str(logs)], mapping=EventMapping(columns={"actor_id": "user"})))
    assert "has no column(s) ['user']" in str(info.value) and "Traceback" not in str(info.value)
    assert "ray::" not in str(info.value)


def test_log_labels_keep_their_source_and_read_decimal_text(tmp_path: Path, ray_local: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    pl.DataFrame({"u": ["a", "b", "c"], "i": ["p1", "p1", "p2"], "ts": [T0.isoformat()] * 3,
                  "label": ["1.0", "0", "maybe"]}).write_csv(logs / "edits.csv")
    mapping = EventMapping(columns={"actor_id": "u", "target_content_id": "i", "ts": "ts"}, constants={"event_type": "edit"},
                           label_column="label", label_source="jodie_ban")
    home = Home(tmp_path / "home")
    build_snapshot(home, BuildParams(events=[str(logs)], mapping=mapping, n_buckets=4))
    labels = pl.read_parquet(home.snapshots.path() / "log_labels.parquet")
    assert labels.select("account_id", "label", "source").rows() == [("a", 1, "jodie_ban"), ("b", 0, "jodie_ban")]


def test_a_running_build_keeps_its_cached_work_from_another_builds_prune(tmp_path: Path, ray_local: None) -> None:
    home = Home(tmp_path / "home")
    build_snapshot(home, BuildParams(events=[str(_write(tmp_path / "first", _rows()))], n_buckets=4))
    cache = home.root / "cache" / "build"
    first = sorted((cache / "prepared").iterdir())
    with locked(cache / ".lock", fcntl.LOCK_SH):  # as a build still running over the first log holds it
        build_snapshot(home, BuildParams(events=[str(_write(tmp_path / "second", _rows()))], n_buckets=4))
    assert all(p.is_dir() for p in first)
    build_snapshot(home, BuildParams(events=[str(tmp_path / "second" / "events")], n_buckets=4))  # alone: it prunes
    assert not any(p.is_dir() for p in first)


def test_an_empty_file_beside_good_ones_is_no_rows_not_a_failed_build(tmp_path: Path, ray_local: None) -> None:
    logs = _write(tmp_path, _rows())
    (logs / "hour-23.csv").write_bytes(b"")
    (logs / "hour-23.jsonl").write_bytes(b"")
    manifest = build_snapshot(Home(tmp_path / "home"), BuildParams(events=[str(logs)]))
    assert manifest["counts"]["rows"] == len(_rows()) and manifest["counts"]["events"] == len(_rows())


def test_a_windowed_build_judges_undated_rows_against_everything_read(tmp_path: Path, ray_local: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    history = [_like(f"o{i}", T0 - dt.timedelta(days=30, seconds=i)) for i in range(995)]
    garbled = [{**_like(f"g{i}", T0), "ts": "garbled"} for i in range(5)]  # 0.5% of a long history, no date
    recent = [_like(f"r{i}", T0 + dt.timedelta(seconds=i)) for i in range(10)]
    pl.DataFrame(history + garbled + recent).write_parquet(logs / "all.parquet")
    manifest = build_snapshot(Home(tmp_path / "home"), BuildParams(
        events=[str(logs)], since=T0 - dt.timedelta(days=1), max_bad_fraction=0.01, n_buckets=4))
    assert manifest["counts"]["events"] == 10 and manifest["quarantine"]["reasons"] == {"bad_timestamp": 5}


def test_without_a_window_the_bad_fraction_is_bad_rows_over_rows_read(tmp_path: Path, ray_local: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    good = [_like(f"r{i}", T0 + dt.timedelta(seconds=i)) for i in range(97)]
    bad = [{**_like("w", T0), "weight": "heavy"}, {**_like("x", T0), "ts": "never"}, {**_like("y", T0), "ts": "garbled"}]
    pl.DataFrame(good + bad).write_parquet(logs / "all.parquet")
    home = Home(tmp_path / "home")
    with pytest.raises(BadRowsError) as info:  # 3 of 100; the dated and undated shares summed read 3.0%
        build_snapshot(home, BuildParams(events=[str(logs)], max_bad_fraction=0.0299, n_buckets=4))
    assert info.value.fraction == pytest.approx(0.03)
    assert build_snapshot(home, BuildParams(events=[str(logs)], max_bad_fraction=0.03, n_buckets=4))["counts"]["events"] == 97
