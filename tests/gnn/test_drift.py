"""Drift readings between a model's training snapshot and a scored one, on small arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gnn.drift import LEVEL_ALERT_RATIO, PSI_ALERT, DriftReference, drift_report, level_shares, psi

THRESHOLDS = {"MEDIUM": 0.25, "HIGH": 0.6, "CRITICAL": 0.9}
NAMES = [f"f{j}" for j in range(5)]


@pytest.fixture
def trained() -> tuple[np.ndarray, np.ndarray]:
    """Five features of 2,000 accounts and their risk: 3% at MEDIUM or above."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5))
    risk = np.where(rng.random(2000) < 0.03, 0.7, 0.05)
    return x, risk


def _reference(trained: tuple[np.ndarray, np.ndarray]) -> DriftReference:
    x, risk = trained
    return DriftReference.fit(x, NAMES, risk, THRESHOLDS)


def test_psi_is_zero_for_equal_shares_symmetric_and_large_for_a_shift() -> None:
    a, b = np.array([0.25, 0.25, 0.5]), np.array([0.5, 0.3, 0.2])
    assert psi(a, a) == 0.0
    assert psi(a, b) == pytest.approx(psi(b, a))
    assert psi(a, b) > PSI_ALERT
    assert np.isfinite(psi(np.array([0.0, 1.0]), np.array([1.0, 0.0])))  # empty bins are floored


def test_level_shares_count_each_level_and_above() -> None:
    risk = np.array([0.1, 0.3, 0.7, 0.95])
    assert level_shares(risk, THRESHOLDS) == {"MEDIUM": 0.75, "HIGH": 0.5, "CRITICAL": 0.25}


def test_the_training_population_itself_has_not_drifted(trained: tuple[np.ndarray, np.ndarray]) -> None:
    x, risk = trained
    report = drift_report(_reference(trained), x, NAMES, risk, THRESHOLDS)
    assert report["features_moved"] == 0 and report["features"] == 5 and report["warnings"] == []
    assert max(report["psi"].values()) < 1e-9
    assert report["level_shares"]["MEDIUM"]["trained"] == report["level_shares"]["MEDIUM"]["scored"]


def test_a_fresh_sample_of_the_same_population_does_not_warn(trained: tuple[np.ndarray, np.ndarray]) -> None:
    rng = np.random.default_rng(1)
    risk = np.where(rng.random(3000) < 0.03, 0.7, 0.05)
    report = drift_report(_reference(trained), rng.normal(size=(3000, 5)), NAMES, risk, THRESHOLDS)
    assert report["features_moved"] == 0 and report["warnings"] == []
    assert max(report["psi"].values()) < 0.05


def test_moved_features_alone_are_a_reading_not_a_warning(trained: tuple[np.ndarray, np.ndarray]) -> None:
    x, risk = trained
    moved = x.copy()
    moved[:, [1, 3, 4]] += 1.0
    report = drift_report(_reference(trained), moved, NAMES, risk, THRESHOLDS)
    assert report["features_moved"] == 3 and set(list(report["psi"])[:3]) == {"f1", "f3", "f4"}
    assert report["psi"]["f1"] > PSI_ALERT and report["psi"]["f0"] < 0.05
    assert report["warnings"] == []  # the levels hold: nothing to act on


def test_the_level_warning_names_the_features_that_moved(trained: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = trained
    ref = _reference(trained)
    risk = np.where(np.arange(len(x)) < 200, 0.7, 0.05)  # 10% at MEDIUM or above against 3%
    moved = x.copy()
    moved[:, [1, 3]] *= 3.0
    (warning,) = drift_report(ref, moved, NAMES, risk, THRESHOLDS)["warnings"]
    assert "10.0% of the accounts are at MEDIUM or above against 3." in warning and "over-flag" in warning
    assert "2 of 5 features moved materially" in warning and "f1 " in warning and "f3 " in warning and "f0" not in warning
    (still,) = drift_report(ref, x, NAMES, risk, THRESHOLDS)["warnings"]
    assert "no feature moved materially" in still


def test_a_feature_the_reference_lacks_is_skipped(trained: tuple[np.ndarray, np.ndarray]) -> None:
    x, risk = trained
    extra = np.concatenate([x, np.full((len(x), 1), 9.0)], axis=1)
    report = drift_report(_reference(trained), extra, [*NAMES, "new"], risk, THRESHOLDS)
    assert report["features"] == 5 and "new" not in report["psi"]


@pytest.mark.parametrize(("share", "warns", "word"), [(0.03 * LEVEL_ALERT_RATIO + 0.01, True, "over-flag"),
                                                     (0.03 * LEVEL_ALERT_RATIO - 0.01, False, ""),
                                                     (0.0, True, "under-flag")])
def test_a_level_share_far_from_training_warns(trained: tuple[np.ndarray, np.ndarray], share: float, warns: bool,
                                               word: str) -> None:
    x, _ = trained
    ref = _reference(trained)
    risk = np.where(np.arange(len(x)) < round(share * len(x)), 0.7, 0.05)
    report = drift_report(ref, x, NAMES, risk, THRESHOLDS)
    assert bool(report["warnings"]) is warns
    if warns:
        assert "at MEDIUM or above" in report["warnings"][0] and word in report["warnings"][0]


def test_a_small_absolute_change_does_not_warn() -> None:
    x = np.random.default_rng(2).normal(size=(1000, 5))
    ref = DriftReference.fit(x, NAMES, np.where(np.arange(1000) < 2, 0.7, 0.0), THRESHOLDS)  # 0.2% trained
    report = drift_report(ref, x, NAMES, np.where(np.arange(1000) < 8, 0.7, 0.0), THRESHOLDS)  # 0.8%: 4x, +0.6 points
    assert report["warnings"] == []


def test_the_reference_survives_json(trained: tuple[np.ndarray, np.ndarray]) -> None:
    ref = _reference(trained)
    again = DriftReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert again == ref
    assert all(len(s) == len(e) + 1 and sum(s) == pytest.approx(1.0) for e, s in zip(again.edges, again.shares))


def test_large_snapshots_are_read_through_an_even_sample(trained: tuple[np.ndarray, np.ndarray],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gnn.drift.SAMPLE_ROWS", 500)
    x, risk = trained
    ref = _reference(trained)
    assert sum(ref.shares[0]) == pytest.approx(1.0) and len(ref.edges[0]) == 9
    same = drift_report(ref, x, NAMES, risk, THRESHOLDS)
    assert same["features_moved"] == 0 and max(same["psi"].values()) < 1e-9  # the same 500 rows
    moved = x.copy()
    moved[:, :3] -= 1.5
    assert drift_report(ref, moved, NAMES, risk, THRESHOLDS)["features_moved"] == 3
