"""Calibration metrics of calibrated risk against held-out labels."""

from __future__ import annotations

import numpy as np
import pytest

from gnn.calibration import DEFAULT_THRESHOLDS
from gnn.evaluate import calibration_metrics, calibration_summary, risk_bins
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
