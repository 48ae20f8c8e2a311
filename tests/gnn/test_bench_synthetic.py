"""The held-out-seed synthetic protocol: ring recovery on hand-made cases, and one tiny real run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gnn.bench_synthetic import (
    RingInputs,
    campaign_outcomes,
    evaluate_synthetic,
    outcome_summary,
    ring_kind_summary,
    ring_kinds,
    ring_recovery,
    ring_report,
    split_campaigns,
    trained_campaign_types,
)
from gnn.benchmark import MODELS, evaluate_dataset
from gnn.rings import RingEdges
from gnn.train import TrainConfig
from ringwatch.errors import InputError


def _truth() -> pl.DataFrame:
    # campaign 1: a0..a3; campaign 2: b0..b3; n0..n3 benign
    ids = [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(4)] + [f"n{i}" for i in range(4)]
    camp = [1] * 4 + [2] * 4 + [None] * 4
    return pl.DataFrame({"account_id": ids, "is_abusive": [c is not None for c in camp], "campaign_id": camp},
                        schema_overrides={"campaign_id": pl.Int64})


def test_ring_recovery_counts_dominated_campaigns_and_member_precision() -> None:
    truth = _truth()
    ids = np.array(truth["account_id"].to_list())
    ring_of = np.full(len(ids), None, dtype=object)
    ring_of[[0, 1, 2, 8]] = "R1"  # 3 of campaign 1 (75% of it) and one benign account
    ring_of[[4, 9, 10]] = "R2"  # one of campaign 2 with two benign: dominated by no campaign
    got = ring_recovery(ids, ring_of, truth, exclude=set())
    assert got["campaigns"] == 2 and got["campaigns_found"] == 1 and got["found_share"] == 0.5
    assert got["members"] == 7 and got["benign_members"] == 3 and got["account_precision"] == pytest.approx(4 / 7)
    # known labels are left out: excluding the benign members makes every member abusive
    assert ring_recovery(ids, ring_of, truth, exclude={"n0", "n1", "n2"})["account_precision"] == 1.0
    # a tie is no majority: two of campaign 2 with two benign accounts find nothing, whatever the row order
    tied = np.full(len(ids), None, dtype=object)
    tied[[4, 5, 8, 9]] = "R1"
    for order in (np.arange(len(ids)), np.arange(len(ids))[::-1]):
        assert ring_recovery(ids[order], tied[order], truth, exclude=set())["campaigns_found"] == 0
    tied[6] = "R1"  # three against two: now it is campaign 2's ring (3 of its 4)
    assert ring_recovery(ids, tied, truth, exclude=set())["campaigns_found"] == 1


def test_split_campaigns_are_whole_when_their_pieces_are_related() -> None:
    truth = _truth()
    ids = np.array(truth["account_id"].to_list())
    ring_of = np.full(len(ids), None, dtype=object)
    ring_of[[0, 1]], ring_of[[2, 3]] = "R1", "R2"  # campaign 1 in two rings
    ring_of[[4, 5]], ring_of[[6, 8]], ring_of[[7, 9, 10]] = "R3", "R4", "R5"  # campaign 2 in R3, and R4 ties, R5 is benign
    table = pl.DataFrame({"ring_id": ["R1", "R2", "R3", "R4", "R5"],
                          "related": [["R5", "R2"], ["R1"], ["R5"], ["R3"], ["R3", "R1"]]})
    assert split_campaigns(ids, ring_of, table, truth, exclude=set()) == {"split": 1, "whole_through_related": 1}
    # R3 reaches R4 through a related link, but R4 is a tie, so campaign 2 is in one ring only;
    # with n0 left out R4 is campaign 2's too, and R3-R4 are related: whole
    assert split_campaigns(ids, ring_of, table, truth, exclude={"n0"}) == {"split": 2, "whole_through_related": 2}
    # campaign 1's pieces reached only through a benign ring are not whole
    apart = table.with_columns(pl.Series("related", [["R5"], [], ["R5"], ["R3"], ["R3", "R1"]]))
    assert split_campaigns(ids, ring_of, apart, truth, exclude=set()) == {"split": 1, "whole_through_related": 0}


def test_ring_report_finds_rings_at_each_floor_with_the_settings_given() -> None:
    # campaign 1 (a0..a3) on one device, and at HIGH risk; campaign 2 (b0..b3) on one device at MEDIUM
    truth = _truth().with_columns(pl.lit(None, dtype=pl.String).alias("campaign_type"))
    ids = np.array(truth["account_id"].to_list())
    clique = [(a, b) for g in (0, 4) for a in range(g, g + 4) for b in range(a + 1, g + 4)]
    edges = RingEdges({"shared_device": (np.array([a for a, _ in clique]), np.array([b for _, b in clique]))},
                      (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    risk = np.array([0.9] * 4 + [0.4] * 4 + [0.1] * 4)
    known = np.zeros(12, bool)
    known[[0, 1]] = True  # seed campaign 1's ring; b's ring needs min_size_unseeded
    inputs = RingInputs(ids, risk, {"MEDIUM": 0.25, "HIGH": 0.6}, edges, known, truth, frozenset({"a0", "a1"}))
    report = ring_report(inputs)
    assert report["rings"]["HIGH"]["campaigns_found"] == 1 and report["rings"]["MEDIUM"]["campaigns_found"] == 1
    assert report["split_campaigns"] == {"split": 0, "whole_through_related": 0}
    assert report["rings"]["MEDIUM"]["members"] == 2  # a0, a1 are labelled: in the ring, left out of the metric
    # the settings reach find_rings: unseeded rings of four are published when allowed
    assert ring_report(inputs, min_size_unseeded=4)["rings"]["MEDIUM"]["campaigns_found"] == 2


def test_campaign_outcomes_say_whose_miss_and_whether_training_labels_showed_the_type() -> None:
    truth = _truth().with_columns(
        pl.when(pl.col("campaign_id") == 1).then(pl.lit("device_farm"))
        .when(pl.col("campaign_id") == 2).then(pl.lit("slow")).alias("campaign_type"))
    ids = np.array(truth["account_id"].to_list())
    edges = RingEdges({}, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    risk = np.array([0.9, 0.9, 0.9, 0.1] + [0.4, 0.4, 0.1, 0.1] + [0.1] * 4)
    inputs = RingInputs(ids, risk, {"MEDIUM": 0.25, "HIGH": 0.6}, edges, np.zeros(12, bool), truth, frozenset({"a0"}))
    ring_of = np.full(len(ids), None, dtype=object)
    ring_of[[0, 1, 2]] = "R1"  # the farm: two of its three counted accounts (a0 is labelled) in its ring
    got = campaign_outcomes(inputs, ring_of, {"device_farm": 5})
    assert got.to_dicts() == [
        {"campaign_id": 1, "campaign_type": "device_farm", "accounts": 3, "at_floor": 2 / 3, "in_reach": 2 / 3, "held": 2 / 3,
         "found": True, "cause": "found", "trained_labels": 5},
        # half of the slow campaign is at the floor, none in a ring: the rings' miss; its type never labelled
        {"campaign_id": 2, "campaign_type": "slow", "accounts": 4, "at_floor": 0.5, "in_reach": 0.5, "held": 0.0,
         "found": False, "cause": "rings", "trained_labels": 0}]
    risk[4] = 0.1  # a quarter at the floor and in reach: no ring could hold half of it, so the scorer's miss
    assert campaign_outcomes(inputs, ring_of, None)["cause"].to_list() == ["found", "scorer"]
    assert campaign_outcomes(inputs, ring_of, None)["trained_labels"].to_list() == [None, None]  # not known
    risk[4] = 0.2  # under the floor but within half of it, where rings attach accounts: the rings' miss again
    again = campaign_outcomes(inputs, ring_of, None).row(1, named=True)
    assert (again["at_floor"], again["in_reach"], again["cause"]) == (0.25, 0.5, "rings")
    assert campaign_outcomes(inputs, ring_of, None, attach_share=1.0)["cause"].to_list() == ["found", "scorer"]
    summary = outcome_summary(campaign_outcomes(inputs, ring_of, {"device_farm": 5}))
    assert summary == {"type_labelled_in_training": {"campaigns": 1, "found": 1, "missed_by_scorer": 0, "missed_by_rings": 0},
                       "type_not_labelled_in_training": {"campaigns": 1, "found": 0, "missed_by_scorer": 0, "missed_by_rings": 1}}
    # an account with no events (b1, in reach above) is no node of the graph: it still counts, never in reach
    keep = np.arange(12) != 5
    absent = RingInputs(ids[keep], risk[keep], inputs.floors, edges, np.zeros(11, bool), truth, frozenset({"a0"}))
    row = campaign_outcomes(absent, ring_of[keep], None).row(1, named=True)
    assert (row["accounts"], row["in_reach"], row["cause"]) == (4, 0.25, "scorer")


def test_trained_campaign_types_count_true_bots_labelled_abusive() -> None:
    truth = pl.DataFrame({"account_id": ["a", "b", "c", "d", "e"],
                          "campaign_type": ["slow", "slow", "device_farm", None, "camouflage"]})
    labels = pl.DataFrame({"account_id": ["a", "a", "b", "c", "d", "e"], "label": [1, 1, 1, 0, 1, 0]})
    # c is a bot labelled benign (label noise), d a benign account labelled abusive: neither shows a type
    assert trained_campaign_types(labels, truth) == {"slow": 2}


def test_rings_are_told_apart_by_their_majority_campaign_type() -> None:
    truth = _truth().with_columns(
        pl.when(pl.col("campaign_id") == 1).then(pl.lit("device_farm"))
        .when(pl.col("campaign_id") == 2).then(pl.lit("slow")).alias("campaign_type"))
    ids = np.array(truth["account_id"].to_list())
    ring_of = np.full(len(ids), None, dtype=object)
    ring_of[[0, 1, 2, 8]] = "R1"  # mostly the device farm
    ring_of[[4, 5, 6]] = "R2"  # the slow campaign
    ring_of[[7, 9, 10]] = "R3"  # mostly benign
    ring_of[[3, 11]] = "R4"  # one farm bot, one benign: a tie
    table = pl.DataFrame({"ring_id": ["R1", "R2", "R3", "R4"], "size": [4, 3, 3, 2], "density": [1.0, 0.6, 1.0, 1.0],
                          "synchrony": [0.9, 0.1, 0.3, 0.5], "mean_risk": [0.9, 0.8, 0.5, 0.7],
                          "ring_score": [0.8, 0.6, 0.7, 0.4]})
    kinds = ring_kinds(ids, ring_of, table, truth)
    assert dict(kinds.select("ring_id", "kind").iter_rows()) == {"R1": "device_farm", "R2": "slow", "R3": "benign",
                                                                  "R4": "mixed"}
    summary = ring_kind_summary(kinds)
    assert summary["synchrony_by_majority_type"] == {
        "benign": {"rings": 1, "mean": 0.3, "median": 0.3}, "device_farm": {"rings": 1, "mean": 0.9, "median": 0.9},
        "mixed": {"rings": 1, "mean": 0.5, "median": 0.5}, "slow": {"rings": 1, "mean": 0.1, "median": 0.1}}
    sep = summary["separation"]
    assert sep["floor"] == "MEDIUM" and sep["campaign_rings"] == 2 and sep["benign_rings"] == 1  # the tie is left out
    auroc = sep["auroc_campaign_vs_benign"]
    # synchrony 0.9 and 0.1 around the benign ring's 0.3: one pair of two is ordered right
    assert auroc["synchrony"] == 0.5 and auroc["mean_risk"] == 1.0 and auroc["density"] == 0.25  # a tie counts half
    assert ring_kind_summary(kinds.filter(pl.col("kind") != "benign"))["separation"]["auroc_campaign_vs_benign"] == {
        c: None for c in auroc}  # one kind only: nothing to rank
    unsaid = ring_kind_summary(kinds.with_columns(pl.lit(float("nan")).alias("synchrony")))  # no co-action relation
    assert unsaid["separation"]["auroc_campaign_vs_benign"]["synchrony"] is None
    assert unsaid["separation"]["auroc_campaign_vs_benign"]["size"] == 0.75
    assert unsaid["synchrony_by_majority_type"]["slow"] == {"rings": 1, "mean": None, "median": None}  # valid JSON


@pytest.mark.integration
@pytest.mark.slow
def test_held_out_platform_is_scored_and_rings_are_reported() -> None:
    fast = TrainConfig(hidden=8, epochs=20, min_epochs=5, patience=5, device="cpu", trees=40, gnn_folds=2, tree_bags=1,
                       cross_fit=1)
    result = evaluate_synthetic(1, fast, MODELS, accounts=1500, days=3, first_seed=1)
    assert set(result["models"]) == set(MODELS) and result["seeds"] == 1 and result["first_seed"] == 1
    for model, metrics in result["models"].items():
        assert 0.5 < metrics["auroc"]["mean"] <= 1.0, model  # planted campaigns are found on a platform never trained on
    assert result["held_out"][0]["held_out_abusive"] > 0
    rings = result["rings"]["MEDIUM"]
    assert rings["campaigns"] > 0 and 0.0 <= rings["found_share"] <= 1.0
    sync = result["ring_synchrony_by_majority_type"]
    assert sum(v["rings"] for v in sync.values()) > 0 and all(0.0 <= v["mean"] <= 1.0 for v in sync.values())
    sep = result["ring_kind_separation"]
    assert sep["campaign_rings"] + sep["benign_rings"] <= sum(v["rings"] for v in sync.values())
    assert all(v is None or 0.0 <= v <= 1.0 for v in sep["auroc_campaign_vs_benign"].values())
    split = result["split_campaigns"]
    assert 0 <= split["whole_through_related"] <= split["split"] <= rings["campaigns"]
    by_labels = result["campaigns_by_training_labels"]  # every campaign once: found or missed, and by whom
    assert sum(c["campaigns"] for c in by_labels.values()) == rings["campaigns"]
    assert all(c["found"] + c["missed_by_scorer"] + c["missed_by_rings"] == c["campaigns"] for c in by_labels.values())
    assert sum(c["found"] for c in by_labels.values()) == rings["campaigns_found"]  # the ring metric's count
    assert len(result["missed_campaigns"]) == rings["campaigns"] - rings["campaigns_found"]
    assert all(m["seed"] == 1 and m["cause"] in ("scorer", "rings") for m in result["missed_campaigns"])
    cal = result["calibration"]  # the training platform's calibrator, on the held-out platform's accounts
    assert 0.0 <= cal["brier"]["mean"] <= 0.25 and 0.0 <= cal["ece"]["mean"] <= 1.0
    assert {"precision_at_CRITICAL", "recall_at_MEDIUM"} <= set(cal) and cal["recall_at_MEDIUM"]["seeds"] == 1
    (drift,) = result["drift"]  # what `ringwatch score` would say of the held-out platform, beside the harm
    assert drift["seed"] == 1 and isinstance(drift["warned"], bool) and drift["features_moved"] >= 0
    assert 0.0 < drift["medium_share_trained"] < 1.0 and 0.0 < drift["medium_share_held_out"] < 1.0
    assert drift["ring_account_precision"] == rings["account_precision"]
    assert set(result["per_campaign_recall_at_1pct_fpr"]["hybrid"]) <= {
        "follow_farm", "like_farm", "comment_spam", "message_blast", "device_farm", "proxy_pool", "sleeper", "camouflage", "slow"}


@pytest.mark.integration
@pytest.mark.slow
def test_the_same_platform_protocol_trains_on_the_scored_platforms_own_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    import gnn.bench_synthetic as bench

    built: list[int] = []
    real_platform = bench._platform

    def platform(root: Path, seed: int, accounts: int, days: int) -> tuple[Path, dict]:
        built.append(seed)  # the real build runs; the test only records which platforms were made
        return real_platform(root, seed, accounts, days)

    monkeypatch.setattr(bench, "_platform", platform)
    fast = TrainConfig(hidden=8, epochs=20, min_epochs=5, patience=5, device="cpu", trees=40, gnn_folds=2, tree_bags=1,
                       cross_fit=1)
    result = evaluate_synthetic(1, fast, ("xgb_own", "hybrid"), accounts=1500, days=3, first_seed=1, same_platform=True)
    assert built == [2001]  # one platform, the scored one, trains the models
    assert result["same_platform"] and "scored platform's own" in result["protocol"]
    assert result["drift"] == []  # nothing to drift from
    assert 0.5 < result["models"]["hybrid"]["auroc"]["mean"] <= 1.0
    by_labels = result["campaigns_by_training_labels"]
    assert sum(c["campaigns"] for c in by_labels.values()) == result["rings"]["MEDIUM"]["campaigns"]


def test_a_first_seed_is_for_the_synthetic_platforms_only() -> None:
    with pytest.raises(InputError, match="synthetic dataset only"):
        evaluate_dataset("amazon", seeds=1, first_seed=3)
    for first, seeds in ((-1, 1), (995, 10)):  # seed 1000 would train on seed 0's held-out platform
        with pytest.raises(InputError, match="from 0 to 999"):
            evaluate_dataset("synthetic", seeds=seeds, first_seed=first)
    with pytest.raises(InputError, match="synthetic dataset only"):
        evaluate_dataset("reddit", seeds=1, same_platform=True)
    with pytest.raises(InputError, match="unknown dataset"):  # the synthetic seed range binds no other dataset
        evaluate_dataset("no-such-dataset", seeds=1001)


def test_the_datasets_folder_comes_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from ringwatch.cli import app, common

    monkeypatch.setenv("RINGWATCH_DATASETS", str(tmp_path / "elsewhere"))
    common.settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["evaluate", "--dataset", "amazon", "--seeds", "1"])
    finally:
        common.settings.cache_clear()
    assert isinstance(result.exception, InputError)
    assert str(tmp_path / "elsewhere" / "yelpchi-amazon-tam" / "Amazon.zip") in str(result.exception)


def test_the_cli_prints_how_ring_columns_tell_campaigns_from_benign_rings(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import gnn.benchmark
    from ringwatch.cli import app

    metric = {"mean": 0.9, "std": 0.01, "values": [0.9]}
    result = {"dataset": "synthetic", "protocol": "held-out platform", "seeds": 1,
              "models": {"hybrid": {k: metric for k in ("auroc", "auprc", "recall_at_1pct_fpr", "precision_at_100")}},
              "rings": {"MEDIUM": {"found_share": 0.75, "account_precision": 0.99, "members": 40.0}},
              "ring_kind_separation": {"floor": "MEDIUM", "campaign_rings": 9, "benign_rings": 2,
                                       "auroc_campaign_vs_benign": {"synchrony": 0.45, "ring_score": 0.97, "size": None}},
              "split_campaigns": {"split": 3, "whole_through_related": 2},
              "campaigns_by_training_labels": {
                  "type_labelled_in_training": {"campaigns": 10, "found": 9, "missed_by_scorer": 1, "missed_by_rings": 0},
                  "type_not_labelled_in_training": {"campaigns": 2, "found": 0, "missed_by_scorer": 1, "missed_by_rings": 1}},
              "calibration": {"brier": {"mean": 0.0055}, "ece": {"mean": 0.004},
                              "precision_at_CRITICAL": {"mean": 0.997, "min": 0.972},
                              "precision_at_HIGH": {"mean": 0.95, "min": 0.9}, "precision_at_MEDIUM": {"mean": None}},
              "drift": [{"seed": 0, "warned": True, "precision_at_MEDIUM": 0.2}, {"seed": 1, "warned": True, "precision_at_MEDIUM": 0.4},
                        {"seed": 2, "warned": False, "precision_at_MEDIUM": 0.9}]}
    # the CLI's printing is under test here, not the evaluation (run for real above)
    monkeypatch.setattr(gnn.benchmark, "evaluate_dataset", lambda *a, **k: dict(result))
    out = CliRunner().invoke(app, ["evaluate", "--dataset", "synthetic", "--seeds", "1"])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())  # the console wraps long lines
    assert "rings at MEDIUM: 75% of campaigns found as rings" in text
    assert ("Brier 0.0055, ECE 0.0040; precision at or above each level, mean (lowest seed): CRITICAL 0.997 (0.972), "
            "HIGH 0.950 (0.900), MEDIUM –") in text
    assert ("rings at MEDIUM: 9 campaign rings, 2 mostly benign; AUROC of each column, campaign vs benign: "
            "synchrony 0.45, ring_score 0.97, size –") in text
    assert "rings at MEDIUM: 3 campaign(s) in several rings, 2 of them whole through their related rings (all seeds)" in text
    assert ("campaigns by whether the training labels showed their type (all seeds): type labelled in training 9 of 10 "
            "found, missed 1 by the scorer and 0 by the rings; type not labelled in training 0 of 2 found, missed 1 by the "
            "scorer and 1 by the rings") in text
    assert ("drift warnings `ringwatch score` would give on the held-out platforms: 2 of 3 seeds (precision at "
            "MEDIUM: warned 0.300, not warned 0.900)") in text


def test_means_over_seeds_leave_out_the_seeds_without_the_figure() -> None:
    from gnn.bench_synthetic import _mean_of_defined

    assert _mean_of_defined([1.0, None, 0.5]) == 0.75  # a campaign type one platform did not plant
    assert _mean_of_defined([float("nan"), 0.9]) == 0.9  # ring precision of a platform without ring members
    assert np.isnan(_mean_of_defined([None, float("nan")]))  # undefined on every seed: undefined
