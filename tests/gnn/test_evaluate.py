"""Calibration metrics of calibrated risk against held-out labels."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from gnn.calibration import DEFAULT_THRESHOLDS
from gnn.evaluate import (
    calibration_metrics,
    calibration_summary,
    evaluate_scores,
    ranking_metrics,
    read_truth,
    risk_bins,
    truth_labels,
)
from ringwatch.errors import InputError


def test_calibration_metrics_by_hand() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    risk = np.array([0.05, 0.05, 0.95, 0.95, 0.95, 0.5])
    m = calibration_metrics(y, risk, DEFAULT_THRESHOLDS)
    assert m["brier"] == pytest.approx((0.05**2 * 2 + 0.95**2 + 0.05**2 * 2 + 0.25) / 6)
    # per bin |risk sum - abusive count|: two at 0.05, none abusive: 0.1; one at 0.5, abusive: 0.5;
    # three at 0.95, two abusive: 0.85
    assert m["ece"] == pytest.approx((0.1 + 0.5 + abs(2.85 - 2)) / 6)
    assert m["precision_at_CRITICAL"] == pytest.approx(2 / 3)
    assert m["recall_at_CRITICAL"] == pytest.approx(2 / 3)
    assert m["precision_at_MEDIUM"] == pytest.approx(3 / 4) and m["recall_at_MEDIUM"] == 1.0


def test_perfect_risk_scores_zero_and_empty_levels_are_none() -> None:
    y = np.array([0, 1, 0, 1])
    m = calibration_metrics(y, y.astype(float), DEFAULT_THRESHOLDS)
    assert m["brier"] == 0.0 and m["ece"] == 0.0 and m["precision_at_CRITICAL"] == 1.0
    low = calibration_metrics(y, np.full(4, 0.1), DEFAULT_THRESHOLDS)
    assert low["precision_at_CRITICAL"] is None and low["recall_at_CRITICAL"] == 0.0


def test_summary_leaves_out_seeds_without_accounts_at_a_level() -> None:
    y = np.array([0, 1, 0, 1])
    seeds = [calibration_metrics(y, np.full(4, 0.1), DEFAULT_THRESHOLDS),
             calibration_metrics(y, np.array([0.0, 0.95, 0.95, 0.95]), DEFAULT_THRESHOLDS)]
    s = calibration_summary(seeds)
    assert s["precision_at_CRITICAL"]["seeds"] == 1 and s["precision_at_CRITICAL"]["mean"] == pytest.approx(2 / 3)
    assert s["precision_at_CRITICAL"]["values"][0] is None
    assert s["brier"]["seeds"] == 2 and s["brier"]["min"] <= s["brier"]["mean"]


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(InputError, match="one risk per label"):
        calibration_metrics(np.array([0, 1]), np.array([0.5]), DEFAULT_THRESHOLDS)


def test_risk_bins_are_equal_width_with_one_in_the_last_bin() -> None:
    # 0.3 is 3/10 exactly as a float times ten, so it opens bin 3 (a linspace edge would put it in 2)
    assert risk_bins(np.array([0.0, 0.05, 0.1, 0.3, 0.95, 0.999, 1.0])).tolist() == [0, 0, 1, 3, 9, 9, 9]


SCORES = pl.DataFrame({"account_id": [f"a{i}" for i in range(8)], "risk": [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1]})


def test_truth_labels_take_0_1_ints_floats_and_booleans_once_per_account() -> None:
    t = truth_labels(pl.DataFrame({"account_id": [1, 2, 2], "label": [1.0, 0.0, 0.0]}))
    assert t["account_id"].to_list() == ["1", "2"] and t["_y"].to_list() == [1, 0]
    assert truth_labels(pl.DataFrame({"account_id": ["a"], "is_abusive": [True]}))["_y"].to_list() == [1]


@pytest.mark.parametrize(("truth", "message"), [
    ({"account_id": ["a0", "a1"], "label": [1, None]}, "1 row"),
    ({"account_id": ["a0", "a1"], "label": [1, 2]}, "0/1"),
    ({"account_id": ["a0", "a1"], "label": [0.9, 0.2]}, "2 row"),  # read as 0 before
    ({"account_id": ["a0", "a1"], "label": ["yes", "no"]}, "0/1"),
    ({"account_id": ["a0", "a0"], "label": [1, 0]}, "both abusive and benign"),  # counted twice before
    ({"id": ["a0"], "label": [1]}, "needs account_id"),
])
def test_bad_truth_tables_are_clear_errors(truth: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        truth_labels(pl.DataFrame(truth))


def test_evaluate_scores_reports_what_it_matched_and_left_out() -> None:
    truth = pl.DataFrame({"account_id": [f"a{i}" for i in range(8)] + ["z1", "z2"], "label": [1, 1, 0, 1, 0, 0, 0, 0, 1, 0]})
    out = evaluate_scores(SCORES, truth, exclude={"a0", "a7", "never-scored"})
    assert (out["truth_rows"], out["matched"], out["unmatched_truth"], out["excluded_training_labels"]) == (10, 8, 2, 2)
    with pytest.raises(InputError, match="no account of the truth table"):
        evaluate_scores(SCORES, pl.DataFrame({"account_id": ["A0", "A1"], "label": [1, 0]}))


def test_an_unreadable_truth_file_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "t.csv").write_text("account_id,label\na0,1\n")
    for path in (tmp_path / "t.csv", tmp_path / "missing.parquet"):
        with pytest.raises(InputError, match="cannot read the truth table"):
            read_truth(path)


def test_ranking_metrics_precision_at_k_says_how_many_accounts_it_covered() -> None:
    y = np.array([1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    few = ranking_metrics(y, p)
    assert few["top_k"] == 5 and few["precision_at_100"] == pytest.approx(2 / 5)
    top2 = ranking_metrics(y, p, top_k=2)
    assert top2["top_k"] == 2 and top2["precision_at_2"] == pytest.approx(1 / 2)


def test_recall_at_1pct_fpr_counts_every_threshold_even_on_a_straight_stretch() -> None:
    from gnn.evaluate import recall_at_fpr

    # ten score levels each hold one abusive and one benign account; 190 benign accounts score lower
    p = np.concatenate([np.repeat(np.arange(100, 90, -1), 2), np.full(10, 50), np.zeros(190)]).astype(np.float64)
    y = np.concatenate([np.tile([1, 0], 10), np.ones(10), np.zeros(190)]).astype(np.int64)
    recall, threshold = recall_at_fpr(y, p)
    assert (recall, threshold) == (0.1, 99.0)  # flag >= 99: 2 of 20 abusive, 2 of 200 benign (1% FPR)
