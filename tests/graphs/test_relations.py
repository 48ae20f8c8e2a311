"""Relations and features on tiny, hand-checked logs."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl

from graphs.features import actor_features
from graphs.relations import (
    coaction_pairs,
    coacts,
    direct_edges,
    key_usage,
    responses,
    shared_key_pairs,
)

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)


def _events(rows: list[tuple[int, str, str, str | None, str | None]]) -> pl.DataFrame:
    """rows: (seconds after T0, actor, event_type, target_account, device)."""
    return pl.DataFrame({
        "ts": [T0 + dt.timedelta(seconds=r[0]) for r in rows],
        "actor_id": [r[1] for r in rows],
        "event_type": [r[2] for r in rows],
        "target_account_id": [r[3] for r in rows],
        "target_content_id": [None] * len(rows),
        "device_id": [r[4] for r in rows],
        "ip": [None] * len(rows),
        "text_hash": [None] * len(rows),
    }, schema_overrides={"ts": pl.Datetime("us", "UTC"), "target_content_id": pl.String, "ip": pl.String, "text_hash": pl.String})


def test_direct_edges_count_per_type_and_skip_self() -> None:
    ev = _events([(0, "a", "follow", "b", None), (5, "a", "follow", "b", None), (9, "a", "like", "b", None),
                  (10, "b", "follow", "a", None), (11, "c", "like", "c", None), (12, "c", "login", None, None)])
    edges = direct_edges(ev).sort("relation", "src")
    assert edges.select("relation", "src", "dst", "count").rows() == [
        ("follow", "a", "b", 2), ("follow", "b", "a", 1), ("like", "a", "b", 1)]


def _slim(rows: list[tuple[str, int, str]]) -> pl.DataFrame:
    return pl.DataFrame({"target": [r[0] for r in rows], "ts": [T0 + dt.timedelta(seconds=r[1]) for r in rows],
                         "actor_id": [r[2] for r in rows]}, schema_overrides={"ts": pl.Datetime("us", "UTC")})


def test_coaction_counts_shared_windows_not_events() -> None:
    # a and b hit t1 within a minute, and t2 within a minute: 2 shared cells.
    # c hits t1 an hour later: no co-action with anyone.
    slim = _slim([("t1", 0, "a"), ("t1", 30, "b"), ("t1", 40, "b"), ("t2", 600, "a"), ("t2", 650, "b"), ("t1", 3600, "c")])
    pairs = coaction_pairs(slim, window_s=300, max_actors=50)
    assert pairs.select("src", "dst", "count").rows() == [("a", "b", 2)]


def test_one_coincidence_just_before_midnight_is_one_episode() -> None:
    to_midnight = 12 * 3600  # T0 is noon
    for before in (60, 140, 200, 299):  # in the offset window across midnight, or not
        slim = _slim([("t1", to_midnight - before, "a"), ("t1", to_midnight - before + 10, "b")])
        assert coaction_pairs(slim, window_s=300, max_actors=50)["count"].to_list() == [1], before
    after = _slim([("t1", to_midnight + 20, "a"), ("t1", to_midnight + 30, "b")])
    assert coaction_pairs(after, window_s=300, max_actors=50)["count"].to_list() == [1]
    across = _slim([("t1", to_midnight - 30, "a"), ("t1", to_midnight + 30, "b")])  # one minute apart, two dates
    assert coaction_pairs(across, window_s=300, max_actors=50).is_empty()  # no cell spans two days


def test_a_capped_window_leaves_its_pairs_to_the_offset_pass() -> None:
    # six actors in one window, two kept per cell: u0 and u1 (10 s apart) meet only in an offset cell
    slim = _slim([("t1", s, f"u{i}") for i, s in enumerate((100, 110, 200, 210, 220, 280))])
    pairs = coaction_pairs(slim, window_s=300, max_actors=2)
    assert ("u0", "u1") in set(pairs.select("src", "dst").rows())


def test_coaction_caps_actors_per_window() -> None:
    slim = _slim([("viral", i, f"u{i:03d}") for i in range(100)])
    pairs = coaction_pairs(slim, window_s=300, max_actors=10)
    members = set(pairs["src"]) | set(pairs["dst"])
    assert len(members) <= 20  # 10 per window offset at most
    assert pairs.height <= 2 * 45


def test_coaction_chunked_by_episode_equals_one_join() -> None:
    # A hub target over three days (thousands of pairs) next to a small farm repeating on two targets.
    rng = random.Random(3)
    rows = [("hub", day * 86_400 + rng.randrange(0, 86_400), f"u{rng.randrange(300):03d}") for day in range(3) for _ in range(900)]
    rows += [(t, day * 86_400 + 7_200 + k, f"bot{k}") for t in ("t1", "t2") for day in range(3) for k in range(5)]
    slim = _slim(rows)
    whole = coaction_pairs(slim, window_s=300, max_actors=40).sort("src", "dst")
    chunked = coaction_pairs(slim, window_s=300, max_actors=40, max_join_rows=500).sort("src", "dst")
    assert whole.height > 1_000
    assert chunked.equals(whole)
    bots = whole.filter(pl.col("src").str.starts_with("bot") & pl.col("dst").str.starts_with("bot"))
    assert bots.height == 10 and bots["count"].to_list() == [6] * 10  # 2 targets x 3 days


def test_coaction_in_a_crowd_pairs_time_neighbours_only() -> None:
    # 120 fans spread over one window of a viral video; 4 bots act within 3 seconds of each other.
    slim = _slim([("viral", 2 * i, f"fan{i:03d}") for i in range(120)] + [("viral", 101 + k, f"bot{k}") for k in range(4)])
    pairs = coaction_pairs(slim, window_s=300, max_actors=500, max_neighbors=8)
    assert pairs.height <= 2 * 124 * 8  # n·k per window offset, not n²/2
    bots = pairs.filter(pl.col("src").str.starts_with("bot") & pl.col("dst").str.starts_with("bot"))
    assert bots.height == 6  # every bot pair: they are time neighbours
    far = pairs.filter((pl.col("src") == "fan000") & (pl.col("dst") == "fan119"))
    assert far.is_empty()  # four minutes apart in a crowd: not lockstep


def test_shared_device_pairs_skip_crowded_keys() -> None:
    ev = _events([(0, "a", "login", None, "d1"), (1, "b", "login", None, "d1"), (2, "c", "login", None, "d2")]
                 + [(3 + i, f"n{i}", "login", None, "nat") for i in range(30)] + [(40, "a", "login", None, "nat")])
    usage = key_usage(ev, "device_id").rename({"device_id": "key"})
    pairs = shared_key_pairs(usage, "key", max_accounts=10)
    assert pairs.select("src", "dst", "count").rows() == [("a", "b", 1)]


def test_features_by_hand() -> None:
    ev = _events([(0, "a", "like", "x", "d1"), (60, "a", "like", "y", "d1"), (180, "a", "follow", "x", "d2"),
                  (0, "b", "login", None, None)])
    f = actor_features(ev).sort("account_id")
    a = f.row(0, named=True)
    assert a["account_id"] == "a"
    assert a["n_events"] == 3 and a["n_like"] == 2 and a["n_follow"] == 1
    assert a["n_targets"] == 2 and a["n_devices"] == 2
    assert a["share_gaps_under_1m"] == 0.0  # gaps of 60 s and 120 s
    assert a["hour_entropy"] == 0.0  # all in one hour
    b = f.row(1, named=True)
    assert b["n_login"] == 1 and b["n_devices"] == 0
    assert b["n_targets"] == 1 and a["n_contents"] == 1  # "no target" is one more value (see actor_features)


def test_open_vocabulary_types_coact_but_sessions_do_not() -> None:
    ev = pl.DataFrame({"event_type": ["like", "edit", "vote", "login", "post", "signup", "unfollow"]})
    assert ev.filter(coacts())["event_type"].to_list() == ["like", "edit", "vote"]


def test_responses_count_answers_and_replies_from_other_accounts_only() -> None:
    # t1: a edits, b answers 60 s later, a answers b 30 s later; a's own repeat does not count;
    # t2: c acts alone; t1 at 10_000 s: b acts long after everyone (no answer, no reply).
    slim = _slim([("t1", 0, "a"), ("t1", 60, "b"), ("t1", 90, "a"), ("t1", 100, "a"), ("t2", 50, "c"), ("t1", 10_000, "b")])
    got = {r[0]: r[1:] for r in responses(slim, window_s=300)[0].sort("actor_id").rows()}
    # a: 3 actions; answered once (0 -> b at 60); replied once (90 after b at 60)
    assert got == {"a": (3, 1, 1), "b": (2, 1, 1), "c": (1, 0, 0)}


def test_answer_pairs_name_who_answered_whom_and_agree_with_the_response_counts() -> None:
    # t1: b answers a (60 s), a answers b (30 s), a's own repeat is no answer, b at 10_000 s answers no one;
    # t2: b answers a again (10 s later), then c 400 s after b (outside the window)
    slim = _slim([("t1", 0, "a"), ("t1", 60, "b"), ("t1", 90, "a"), ("t1", 100, "a"), ("t1", 10_000, "b"),
                  ("t2", 0, "a"), ("t2", 10, "b"), ("t2", 410, "c")])
    pairs = responses(slim, window_s=300)[1].sort("src", "dst")
    assert pairs.select("src", "dst", "count").rows() == [("a", "b", 1), ("b", "a", 2)]
    b_on_a = pairs.filter(pl.col("src") == "b").row(0, named=True)
    assert (b_on_a["first_ts"], b_on_a["last_ts"]) == (T0 + dt.timedelta(seconds=10), T0 + dt.timedelta(seconds=60))
    answered = dict(responses(slim, window_s=300)[0].select("actor_id", "n_answered").rows())
    assert dict(pairs.group_by("dst").agg(pl.col("count").sum()).rows()) == {k: v for k, v in answered.items() if v}


def test_responses_of_an_empty_bucket_are_empty_tables_with_their_columns() -> None:
    counts, pairs = responses(_slim([]), window_s=300)
    assert counts.is_empty() and counts.columns == ["actor_id", "n_targeted", "n_answered", "n_replying"]
    assert pairs.is_empty() and pairs.columns == ["src", "dst", "count", "first_ts", "last_ts"]


def test_an_action_in_the_same_instant_is_no_answer() -> None:
    # a and b in lockstep (the same second): no pair, either way; c answers b 5 s later
    slim = _slim([("t", 0, "a"), ("t", 0, "b"), ("t", 5, "c")])
    assert responses(slim, window_s=300)[1].select("src", "dst").rows() == [("c", "b")]
