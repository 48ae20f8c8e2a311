"""Calibration is monotone, keeps the ranking, and levels follow the thresholds."""

from __future__ import annotations

import numpy as np

from gnn.calibration import DEFAULT_THRESHOLDS, Calibrator, evidence_cutoff, wilson_lower


def test_calibrated_risk_is_monotone_and_strict() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=400)
    labels = (rng.random(400) < 1 / (1 + np.exp(-2 * scores))).astype(int)
    cal = Calibrator.fit(scores, labels)
    grid = np.linspace(-4, 4, 200)
    risk = cal(grid)
    assert np.all(np.diff(risk) > 0)
    assert risk.min() >= 0 and risk.max() <= 1


def test_calibration_matches_frequencies() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(size=20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-scores))).astype(int)
    cal = Calibrator.fit(scores, labels)
    risk = cal(scores)
    for lo, hi in ((0.1, 0.2), (0.5, 0.6), (0.8, 0.9)):
        sel = (risk >= lo) & (risk < hi)
        assert lo - 0.05 <= labels[sel].mean() <= hi + 0.05


def test_levels_follow_thresholds() -> None:
    cal = Calibrator(x=[0.0, 1.0], y=[0.0, 1.0])
    levels = cal.levels(np.array([0.1, 0.3, 0.7, 0.95], dtype=np.float32))
    assert levels.tolist() == ["LOW", "MEDIUM", "HIGH", "CRITICAL"]


def test_wilson_lower_bound_matches_known_values() -> None:
    # all-positive: n / (n + z²); 25 of 25 is the least clean evidence for 0.9 at z = 1.645
    lb = wilson_lower(np.array([24.0, 25.0, 90.0]), np.array([24.0, 25.0, 100.0]))
    assert lb[0] < 0.9 <= lb[1]
    assert 0.83 < lb[2] < 0.9  # 90 of 100 is not evidence of 0.9


def test_evidence_cutoff_is_the_lowest_cut_with_evidence() -> None:
    # 40 positives on top, then a benign account, 10 more positives, then 50 benign
    scores = np.arange(100, 0, -1, dtype=np.float64)
    labels = np.r_[np.ones(40), 0, np.ones(10), np.zeros(49)].astype(int)
    cut = evidence_cutoff(scores, labels)
    above = scores >= cut
    assert wilson_lower(np.array([labels[above].sum()]), np.array([above.sum()]))[0] >= 0.9
    below = scores >= cut - 1  # one more account would break it
    assert wilson_lower(np.array([labels[below].sum()]), np.array([below.sum()]))[0] < 0.9
    assert evidence_cutoff(scores[:20], labels[:20]) is None  # 20 of 20 is too few


def test_evidence_cutoff_keeps_ties_together() -> None:
    # 30 positives and 30 benign accounts tied on one score: the cut cannot split them
    scores = np.r_[np.full(30, 2.0), np.full(60, 1.0)]
    labels = np.r_[np.ones(30), np.ones(30), np.zeros(30)].astype(int)
    assert evidence_cutoff(scores, labels) == 2.0
    assert evidence_cutoff(np.full(60, 1.0), labels[30:]) is None


def test_critical_needs_evidence_and_never_drops_below_its_probability() -> None:
    rng = np.random.default_rng(2)
    # plenty of sure positives: the level opens at the calibrated 0.9 or above
    scores = np.r_[rng.normal(3, 0.3, 300), rng.normal(-1, 1, 3000)]
    labels = np.r_[np.ones(300), np.zeros(3000)].astype(int)
    cal = Calibrator.fit(scores, labels)
    assert DEFAULT_THRESHOLDS["CRITICAL"] <= cal.thresholds["CRITICAL"] < 1
    assert (cal.levels(cal(scores)) == "CRITICAL").sum() >= 250
    # a top step of six positives reaches 0.9 by isotonic regression alone, but is no evidence
    few = np.r_[np.full(6, 5.0), rng.normal(0, 1, 500)]
    few_labels = np.r_[np.ones(6), (rng.random(500) < 0.2)].astype(int)
    thin = Calibrator.fit(few, few_labels)
    assert thin(np.array([5.0]))[0] >= 0.9
    assert thin.thresholds["CRITICAL"] > 1 and "CRITICAL" not in thin.levels(thin(few))
    assert thin.thresholds["HIGH"] == DEFAULT_THRESHOLDS["HIGH"]  # only CRITICAL asks for evidence


def test_one_class_of_labels_reads_raw_log_odds_and_opens_no_critical() -> None:
    cal = Calibrator.fit(np.array([-3.0, -1.0, 0.5]), np.array([0, 0, 0]))
    risk = cal(np.array([-2.0, 0.0, 3.0, 9.0]))
    assert np.all(np.diff(risk) > 0)
    assert abs(float(risk[1]) - 0.5) < 0.01  # log-odds 0 is an even chance
    assert list(cal.levels(risk)) == ["LOW", "MEDIUM", "HIGH", "HIGH"]  # 0.9999 is still not CRITICAL: no evidence
