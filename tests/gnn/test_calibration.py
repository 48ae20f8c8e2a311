"""Calibration is monotone, keeps the ranking, and levels follow the thresholds."""

from __future__ import annotations

import numpy as np

from gnn.calibration import Calibrator


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
