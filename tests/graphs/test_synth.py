"""The synthetic generator: schema, determinism, each campaign's and hard negative's signature, labels."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from graphs.synth import CAMPAIGN_TYPES, HARD_NEGATIVE_TYPES, SynthConfig, generate
from ringwatch.errors import ConfigError

CFG = SynthConfig(accounts=4_000, days=4, campaigns=len(CAMPAIGN_TYPES), bots_per_campaign=30, fan_size=80,
                  label_fraction=0.4, labeled_campaign_fraction=0.7, label_noise=0.05, label_delay_days=2.0, seed=11)
WINDOW_S = 900


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("synth")
    summary = generate(out, CFG)
    events = pl.read_parquet(out / "events" / "**" / "*.parquet", hive_partitioning=True)
    truth = pl.read_parquet(out / "ground_truth.parquet")
    return {"out": out, "summary": summary, "events": events, "truth": truth,
            "labels": pl.read_parquet(out / "labels.parquet"), "accounts": pl.read_parquet(out / "accounts.parquet")}


def _members(truth: pl.DataFrame, ctype: str) -> pl.DataFrame:
    return truth.filter(pl.col("campaign_type") == ctype).select("account_id", "campaign_id")


def _cells(events: pl.DataFrame) -> pl.DataFrame:
    """(target, window) cells per actor for lockstep-able actions."""
    return (events.filter(pl.col("event_type").is_in(["follow", "like", "comment", "view", "share"]))
            .with_columns(pl.coalesce(pl.col("target_content_id"), pl.col("target_account_id")).alias("target"),
                          (pl.col("ts").dt.epoch("s") // WINDOW_S).alias("w"))
            .select("actor_id", "target", "w").unique())


def _mean_shared_cells(cells: pl.DataFrame, accounts: list[str]) -> float:
    """Mean number of (target, window) cells shared by a pair of the given accounts."""
    c = cells.filter(pl.col("actor_id").is_in(accounts))
    pairs = c.join(c, on=["target", "w"]).filter(pl.col("actor_id") < pl.col("actor_id_right"))
    n = len(accounts)
    return pairs.height / max(n * (n - 1) / 2, 1)


# --- contract ---------------------------------------------------------------------------

def test_schema_partitions_and_ids(synth: dict) -> None:
    ev: pl.DataFrame = synth["events"]
    schema = pl.read_parquet_schema(next((synth["out"] / "events").glob("date=*/part-*.parquet")))
    assert schema == {"ts": pl.Datetime("us", "UTC"), "actor_id": pl.String, "event_type": pl.String,
                      "target_account_id": pl.String, "target_content_id": pl.String, "device_id": pl.String,
                      "ip": pl.String, "text_hash": pl.String, "event_id": pl.String}
    assert ev["event_id"].n_unique() == ev.height
    assert (ev["ts"].dt.date().cast(pl.String) == ev["date"].cast(pl.String)).all()
    assert ev["actor_id"].str.contains(r"^\d+$").all()
    ips = ev["ip"].drop_nulls().unique()
    parsed = [ipaddress.ip_address(x) for x in ips.to_list()]
    assert any(p.version == 6 for p in parsed) and any(p.version == 4 for p in parsed)
    assert set(ev["event_type"].unique()) >= {"view", "like", "comment", "share", "follow", "unfollow", "message",
                                              "post", "login", "signup"}
    assert ev.filter(pl.col("event_type") == "comment")["text_hash"].null_count() == 0
    truth, labels = synth["truth"], synth["labels"]
    assert truth.schema["campaign_id"] == pl.Int64 and truth.schema["is_abusive"] == pl.Boolean
    assert {"hard_negative_type", "account_age_days", "campaign_type"} <= set(truth.columns)
    assert labels.schema == {"account_id": pl.String, "label": pl.Int64, "source": pl.String, "ts": pl.Datetime("us", "UTC")}
    assert set(ev["actor_id"].unique()) <= set(truth["account_id"])
    summary = json.loads((synth["out"] / "summary.json").read_text())
    assert summary["events"] == ev.height


def test_signups_and_no_activity_before_creation(synth: dict) -> None:
    ev, accounts = synth["events"], synth["accounts"]
    start = ev["ts"].min()
    first = ev.group_by("actor_id").agg(pl.col("ts").min().alias("first")).join(
        accounts, left_on="actor_id", right_on="account_id")
    assert (first["first"] >= first["created_at"]).all()
    for target in ("target_account_id", "owner"):  # nobody acts on an account, or its videos, before it exists
        named = ev.with_columns(pl.col("target_content_id").cast(pl.Int64).floordiv(64).cast(pl.String).alias("owner"))
        named = named.join(accounts, left_on=target, right_on="account_id")
        assert named.height > 0 and (named["ts"] >= named["created_at"]).all(), target
    new = accounts.filter(pl.col("created_at") >= start)
    signups = ev.filter(pl.col("event_type") == "signup")
    assert new.height > 0 and signups["actor_id"].n_unique() == signups.height
    assert set(signups["actor_id"]) == set(new["account_id"])
    assert signups.join(accounts, left_on="actor_id", right_on="account_id").select(
        (pl.col("ts") == pl.col("created_at")).all()).item()


def test_deterministic_per_seed(tmp_path: Path) -> None:
    cfg = SynthConfig(accounts=800, days=2, campaigns=4, bots_per_campaign=10, fan_size=30, seed=3)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, cfg)
    generate(b, cfg)
    generate(c, SynthConfig(**{**cfg.__dict__, "seed": 4}))
    for name in ("labels.parquet", "ground_truth.parquet"):
        assert pl.read_parquet(a / name).equals(pl.read_parquet(b / name))
    read = lambda p: pl.read_parquet(p / "events" / "**" / "*.parquet")  # noqa: E731
    assert read(a).equals(read(b))
    assert not read(a).equals(read(c))


def test_uncompressed_output(tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig(accounts=300, days=1, campaigns=1, bots_per_campaign=8, fan_size=20,
                                   compression="uncompressed"))
    part = next((tmp_path / "events").glob("date=*/part-*.parquet"))
    assert pl.read_parquet(part).height > 0


def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        SynthConfig(label_noise=1.5).validate()
    with pytest.raises(ConfigError):
        SynthConfig(campaign_mix=("bogus",)).validate()
    for bad, message in ((SynthConfig(camouflage=float("nan")), "camouflage must be finite"),
                         (SynthConfig(lockstep_spread_s=float("inf")), "lockstep_spread_s must be finite"),
                         (SynthConfig(seed=-1), "seed must be 0 or more"),
                         (SynthConfig(label_delay_days=-1.0), "label_delay_days must be 0 or more"),
                         (SynthConfig(accounts=2_000_000_000), "accounts × days"),
                         (SynthConfig(days=400), "in the future"),
                         (SynthConfig(start="last week"), "YYYY-MM-DD"),
                         (SynthConfig(start="2025-W10-1"), "YYYY-MM-DD"),  # ISO, but not a day the generator reads
                         (SynthConfig(start="20250301"), "YYYY-MM-DD"),
                         (SynthConfig(start="2025-03-01T00:00+02:00"), "YYYY-MM-DD")):
        with pytest.raises(ConfigError, match=message):
            bad.validate()


def test_a_folder_a_run_did_not_write_is_refused_and_a_rerun_leaves_no_stale_files(tmp_path: Path) -> None:
    small = SynthConfig(accounts=300, days=1, campaigns=1, bots_per_campaign=8, fan_size=20)
    mine = tmp_path / "project"
    (mine / "events").mkdir(parents=True)
    (mine / "events" / "mydata.csv").write_text("ts,actor_id\n")
    with pytest.raises(ConfigError, match="holds files a synth run does not write"):
        generate(mine, small)
    assert (mine / "events" / "mydata.csv").is_file()  # nothing deleted
    out = tmp_path / "synth"
    generate(out, small)
    with pytest.raises(ConfigError):  # a run that fails part-way...
        generate(out, SynthConfig(**{**small.__dict__, "label_delay_days": -1.0}))
    assert (out / "summary.json").is_file()  # ...fails before touching the earlier run's files
    generate(out, SynthConfig(**{**small.__dict__, "seed": 4}))
    assert json.loads((out / "summary.json").read_text())["config"]["seed"] == 4


def test_fast_sort_and_search_match_numpy() -> None:
    """The packed-key time order and the sorted CDF search behave as their plain NumPy versions."""
    from graphs.synth.events import time_order
    from graphs.synth.population import sorted_search

    rng = np.random.default_rng(0)
    ts = rng.integers(0, 5_000, 20_000)  # many ties: the order must be stable
    order, sorted_ts = time_order(ts, 4_000)
    expected = np.argsort(ts, kind="stable")
    expected = expected[ts[expected] < 4_000]
    assert np.array_equal(order, expected) and np.array_equal(sorted_ts, ts[expected])
    slow_order, _ = time_order(ts, 1 << 60)  # too wide to pack: the fallback
    assert np.array_equal(slow_order, np.argsort(ts, kind="stable"))
    cdf = np.cumsum(rng.pareto(1.1, 3_000) + 0.01)
    cdf /= cdf[-1]
    q = rng.random(50_000)
    assert np.array_equal(sorted_search(cdf, q), np.searchsorted(cdf, q, side="right"))


def test_organic_population_is_heavy_tailed_with_rhythm_and_reciprocity(synth: dict) -> None:
    ev, truth = synth["events"], synth["truth"]
    organic = ev.join(truth.filter(~pl.col("is_abusive")).select("account_id"), left_on="actor_id", right_on="account_id")
    per_actor = organic.group_by("actor_id").len()["len"].to_numpy()
    assert np.percentile(per_actor, 99) > 8 * np.median(per_actor)
    inbound = organic.filter(pl.col("event_type") == "follow").group_by("target_account_id").len()["len"].to_numpy()
    assert inbound.max() > 20 * np.median(inbound)
    hours = np.bincount(organic["ts"].dt.hour().to_numpy(), minlength=24)
    assert hours.max() > 1.3 * hours.min()  # flattened by a dozen time zones, still a rhythm
    follows = organic.filter(pl.col("event_type") == "follow").select("actor_id", "target_account_id").unique()
    mutual = follows.join(follows, left_on=["actor_id", "target_account_id"], right_on=["target_account_id", "actor_id"])
    assert mutual.height / follows.height > 0.05


# --- campaigns ---------------------------------------------------------------------------

def test_every_campaign_type_is_planted(synth: dict) -> None:
    truth = synth["truth"]
    assert set(truth["campaign_type"].drop_nulls()) == set(CAMPAIGN_TYPES)
    assert synth["summary"]["abusive_accounts"] == truth["is_abusive"].sum()


@pytest.mark.parametrize("ctype", ["follow_farm", "like_farm", "device_farm", "sleeper"])
def test_lockstep_campaigns_coact_far_above_organic_pairs(synth: dict, ctype: str) -> None:
    cells = _cells(synth["events"])
    members = _members(synth["truth"], ctype)["account_id"].to_list()
    organic = synth["truth"].filter(~pl.col("is_abusive") & pl.col("hard_negative_type").is_null())
    sample = organic.sample(300, seed=1)["account_id"].to_list()
    camp, base = _mean_shared_cells(cells, members), _mean_shared_cells(cells, sample)
    assert camp > 0.5 and camp > 20 * max(base, 1e-3), (camp, base)


def test_slow_campaign_slips_under_window_but_shares_targets(synth: dict) -> None:
    cells = _cells(synth["events"])
    slow = _members(synth["truth"], "slow")["account_id"].to_list()
    farm = _members(synth["truth"], "follow_farm")["account_id"].to_list()
    assert _mean_shared_cells(cells, slow) < 0.25 * _mean_shared_cells(cells, farm)
    ev = synth["events"].filter(pl.col("actor_id").is_in(slow) & pl.col("target_account_id").is_not_null())
    targets = ev.group_by("target_account_id").agg(pl.col("actor_id").n_unique().alias("n")).sort("n", descending=True)
    assert targets["n"][0] >= 0.3 * len(slow)  # the customers: most of the ring over the days


def test_device_farm_packs_accounts_per_device_far_above_households(synth: dict) -> None:
    ev, truth = synth["events"], synth["truth"]
    per_device = ev.filter(pl.col("device_id").is_not_null()).group_by("device_id").agg(
        pl.col("actor_id").unique().alias("actors"), pl.col("actor_id").n_unique().alias("n"))
    kind = truth.select("account_id", "campaign_type", "hard_negative_type")
    dev_kind = per_device.explode("actors").join(kind, left_on="actors", right_on="account_id").group_by("device_id").agg(
        pl.col("n").first(), pl.col("campaign_type").drop_nulls().first(), pl.col("hard_negative_type").drop_nulls().first())
    farm = dev_kind.filter(pl.col("campaign_type") == "device_farm")["n"]
    households = dev_kind.filter(pl.col("hard_negative_type") == "household")["n"]
    assert farm.median() >= 10 and households.max() <= 8 and households.max() >= 3
    assert farm.median() > 3 * households.median()


def test_comment_spam_reuses_templated_text(synth: dict) -> None:
    ev, truth = synth["events"], synth["truth"]
    spam_ids = _members(truth, "comment_spam")["account_id"]
    spam = ev.filter((pl.col("event_type") == "comment") & pl.col("actor_id").is_in(spam_ids.to_list()))
    per_text = spam.group_by("text_hash").agg(pl.col("actor_id").n_unique().alias("n"), pl.len().alias("uses"))
    templated = per_text.filter(pl.col("n") >= 3)["uses"].sum() / spam.height
    assert templated > 0.6 and per_text.height <= 48 + spam.height * 0.4
    org = ev.filter((pl.col("event_type") == "comment") & ~pl.col("actor_id").is_in(truth.filter(pl.col("is_abusive"))["account_id"].to_list()))
    org_text = org.group_by("text_hash").agg(pl.col("actor_id").n_unique().alias("n"))
    assert org_text.filter(pl.col("n") >= 3).height / org_text.height < 0.05  # a few common phrases only


def test_message_blast_hits_many_strangers_without_reply(synth: dict) -> None:
    ev, truth = synth["events"], synth["truth"]
    bots = _members(truth, "message_blast")["account_id"].to_list()
    msgs = ev.filter((pl.col("event_type") == "message") & pl.col("actor_id").is_in(bots))
    per_bot = msgs.group_by("actor_id").agg(pl.col("target_account_id").n_unique().alias("n"))
    assert per_bot["n"].median() >= 20
    replies = ev.filter((pl.col("event_type") == "message") & pl.col("target_account_id").is_in(bots))
    assert replies.height < 0.05 * msgs.height
    shared = msgs.group_by("text_hash").agg(pl.col("actor_id").n_unique().alias("n"), pl.len().alias("uses"))
    assert shared.filter(pl.col("n") >= 3)["uses"].sum() > 0.8 * msgs.height  # a few scam templates


def test_proxy_pool_rides_on_real_household_ips(synth: dict) -> None:
    ev, truth = synth["events"], synth["truth"]
    bots = _members(truth, "proxy_pool")["account_id"].to_list()
    bot_ev = ev.filter(pl.col("actor_id").is_in(bots))
    per_bot = bot_ev.group_by("actor_id").agg(pl.col("ip").n_unique().alias("ips"), pl.col("device_id").n_unique().alias("devs"))
    assert per_bot["ips"].median() >= 5 and per_bot["devs"].median() >= 2
    organic_ips = set(ev.filter(~pl.col("actor_id").is_in(truth.filter(pl.col("is_abusive"))["account_id"].to_list()))["ip"].drop_nulls())
    bot_ips = set(bot_ev["ip"].drop_nulls())
    assert len(bot_ips & organic_ips) / len(bot_ips) > 0.3


def test_sleepers_are_old_and_wake_in_a_burst(synth: dict) -> None:
    ev, truth = synth["events"], synth["truth"]
    sleepers = truth.filter(pl.col("campaign_type") == "sleeper")
    assert sleepers["account_age_days"].min() > 365
    wake = next(c for c in synth["summary"]["campaign_list"] if c["type"] == "sleeper")["wake_day"]
    days = ev.filter(pl.col("actor_id").is_in(sleepers["account_id"].to_list())).with_columns(
        ((pl.col("ts") - pl.col("ts").min()).dt.total_days()).alias("d"))
    day_idx = (ev.filter(pl.col("actor_id").is_in(sleepers["account_id"].to_list()))["date"].cast(pl.Date)
               - ev["date"].cast(pl.Date).min()).dt.total_days().to_numpy()
    before = (day_idx < wake).sum() / max(wake, 1)
    on = (day_idx == wake).sum()
    assert on > 5 * max(before, 1)
    del days


def test_camouflage_bots_mostly_act_organically(synth: dict) -> None:
    truth = synth["truth"]
    ev = synth["events"].filter(pl.col("actor_id").is_in(_members(truth, "camouflage")["account_id"].to_list()))
    per = ev.group_by("actor_id").len()["len"]
    organic_median = synth["events"].group_by("actor_id").len()["len"].median()
    assert per.median() >= 0.5 * organic_median  # as busy as an ordinary user, not a one-trick bot
    assert ev["target_account_id"].n_unique() > 5 * len(per) ** 0.5


# --- hard negatives ----------------------------------------------------------------------

def test_every_hard_negative_type_is_present(synth: dict) -> None:
    truth = synth["truth"]
    present = set(truth["hard_negative_type"].drop_nulls())
    assert present == set(HARD_NEGATIVE_TYPES)
    assert not truth.filter(pl.col("hard_negative_type").is_not_null())["is_abusive"].any()


def test_giveaway_text_duplication_rivals_comment_spam(synth: dict) -> None:
    ev, truth = synth["events"], synth["truth"]
    comments = ev.filter(pl.col("event_type") == "comment").join(truth.select("account_id", "is_abusive"),
                                                                 left_on="actor_id", right_on="account_id")
    per_text = comments.group_by("text_hash").agg(pl.col("actor_id").n_unique().alias("n"),
                                                  (pl.col("is_abusive").mean() > 0.5).alias("abusive"))
    top_spam = per_text.filter(pl.col("abusive"))["n"].max()
    giveaway = truth.filter(pl.col("hard_negative_type") == "giveaway")["account_id"].to_list()
    top_giveaway = (comments.filter(pl.col("actor_id").is_in(giveaway)).group_by("text_hash")
                    .agg(pl.col("actor_id").n_unique().alias("n"))["n"].max())
    assert top_giveaway > top_spam  # one giveaway phrase is shared by more accounts than any spam template
    assert per_text.filter(~pl.col("abusive"))["n"].max() > top_spam  # so are everyday phrases ("🔥🔥")


def test_creator_spike_and_viral_burst_look_like_farms(synth: dict) -> None:
    ev, truth = synth["events"], synth["truth"]
    innocent = truth.filter(~pl.col("is_abusive"))["account_id"].to_list()
    follows = ev.filter((pl.col("event_type") == "follow") & pl.col("actor_id").is_in(innocent)).with_columns(
        (pl.col("ts").dt.epoch("s") // 3600).alias("h"))
    burst = follows.group_by("target_account_id", "h").agg(pl.col("actor_id").n_unique().alias("n"))["n"].max()
    farm_burst = (ev.filter((pl.col("event_type") == "follow") & pl.col("actor_id").is_in(_members(truth, "follow_farm")["account_id"].to_list()))
                  .with_columns((pl.col("ts").dt.epoch("s") // 3600).alias("h"))
                  .group_by("target_account_id", "h").agg(pl.col("actor_id").n_unique().alias("n"))["n"].max())
    assert burst > farm_burst
    spike = truth.filter(pl.col("hard_negative_type") == "creator_spike")
    assert (spike["account_age_days"] < CFG.days).sum() >= 8  # brand-new accounts among the followers
    cells = _cells(ev.filter(pl.col("actor_id").is_in(truth.filter(pl.col("hard_negative_type") == "viral_burst")["account_id"].to_list())))
    assert cells.group_by("target", "w").len()["len"].max() >= 20


def test_fan_community_coacts_repeatedly_like_a_farm(synth: dict) -> None:
    cells = _cells(synth["events"])
    truth = synth["truth"]
    fans = truth.filter(pl.col("hard_negative_type") == "fan_community")["account_id"].to_list()
    organic = truth.filter(~pl.col("is_abusive") & pl.col("hard_negative_type").is_null()).sample(300, seed=2)["account_id"].to_list()
    assert _mean_shared_cells(cells, fans) > 10 * max(_mean_shared_cells(cells, organic), 1e-3)


def test_campus_and_household_share_infrastructure(synth: dict) -> None:
    ev, truth = synth["events"], synth["truth"]
    campus = truth.filter(pl.col("hard_negative_type") == "campus")["account_id"].to_list()
    per_ip = ev.filter(pl.col("actor_id").is_in(campus)).group_by("ip").agg(pl.col("actor_id").n_unique().alias("n"))
    assert per_ip["n"].max() >= 20
    nat = ev.group_by("ip").agg(pl.col("actor_id").n_unique().alias("n"))["n"].max()
    assert nat >= 30  # carrier NAT: strangers behind one address


# --- labels ------------------------------------------------------------------------------

def test_labels_are_partial_noisy_and_delayed_as_configured(synth: dict) -> None:
    truth, labels, ev = synth["truth"], synth["labels"], synth["events"]
    joined = labels.join(truth.select("account_id", "is_abusive", "campaign_id", "hard_negative_type"), on="account_id")
    assert joined.height == labels.height == labels["account_id"].n_unique()
    n_abusive = truth["is_abusive"].sum()
    labelled_abusive = joined["is_abusive"].sum()
    assert labelled_abusive == round(CFG.label_fraction * n_abusive)  # never more of the truth than configured
    n_benign = joined.height - labelled_abusive
    assert n_benign == round(CFG.benign_label_fraction * CFG.accounts)
    wrong = (joined["label"] != joined["is_abusive"].cast(pl.Int64)).sum()
    assert wrong == round(CFG.label_noise * labels.height)
    # Whole campaigns are unknown to enforcement.
    known = joined.filter(pl.col("is_abusive"))["campaign_id"].unique()
    assert 0 < known.len() < truth["campaign_id"].drop_nulls().n_unique()
    # Hard negatives are over-represented among benign labels (reviews look at suspicious accounts).
    share_hn_all = truth.filter(~pl.col("is_abusive"))["hard_negative_type"].is_not_null().mean()
    share_hn_lab = joined.filter(~pl.col("is_abusive"))["hard_negative_type"].is_not_null().mean()
    assert share_hn_lab > 1.5 * share_hn_all
    # Labels come after the activity that triggered them, by about the configured delay.
    first = ev.group_by("actor_id").agg(pl.col("ts").min().alias("first"))
    after = labels.join(first, left_on="account_id", right_on="actor_id")
    assert (after["ts"] > after["first"]).mean() > 0.9
    abusive = after.join(truth.filter(pl.col("is_abusive")).select("account_id"), on="account_id")
    assert (abusive["ts"] > abusive["first"]).all()
    delay = (after["ts"] - after["first"]).dt.total_seconds().to_numpy() / 86_400
    assert 1.0 < np.median(delay) < 6.0
    assert set(labels["source"]) <= {"enforcement", "investigator", "user_reports", "appeal", "review"}


def test_label_sources_do_not_leak_truth(synth: dict) -> None:
    joined = synth["labels"].join(synth["truth"].select("account_id", "is_abusive"), on="account_id")
    pos = joined.filter(pl.col("label") == 1)
    by_source = pos.group_by("source").agg(pl.col("is_abusive").mean())["is_abusive"].to_numpy()
    assert by_source.max() - by_source.min() < 0.25
