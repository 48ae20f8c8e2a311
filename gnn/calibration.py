"""Calibrated probabilities and risk levels.

Raw model scores are mapped to probabilities by isotonic regression fitted on validation
labels (never on training or test labels). Risk levels are cut-offs on the calibrated
probability, so a level's cut-off is the precision expected at that operating point:

=========  ==============================  =============================================
level      calibrated risk                 meaning
=========  ==============================  =============================================
CRITICAL   ≥ 0.90, with evidence (below)   precision ≥ 0.9: safe for automatic action
HIGH       ≥ 0.60                          likely abusive: friction (challenge, rate limit)
MEDIUM     ≥ 0.25                          worth a look: queue for review
LOW        < 0.25                          no action
=========  ==============================  =============================================

CRITICAL also needs evidence: its cut-off is raised to the lowest raw score at or above which the
calibration accounts' precision has a one-sided 95% Wilson lower bound of at least 0.9
(:func:`evidence_cutoff`). An isotonic map's top step can reach 0.9 on a handful of accounts (on
Tolokers' first five splits, one to about twenty test accounts a split, at precision 0.0 to 1.0,
0.73 on average); with the bound, 25 abusive accounts without a benign one is the least evidence
that opens the level. Where no score has it, no account is CRITICAL.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.isotonic import IsotonicRegression

from ringwatch.types import RISK_LEVELS

TIE_BREAK = 1e-3
"""Weight of the order-keeping sigmoid blended into the isotonic map."""
DEFAULT_THRESHOLDS = {"MEDIUM": 0.25, "HIGH": 0.60, "CRITICAL": 0.90}
EVIDENCE_Z = 1.645
"""Normal quantile of the one-sided 95% Wilson bound on the precision above a cut."""
UNREACHED = 1.01
"""Cut-off of a level no calibrated risk reaches (risks lie in [0, 1])."""


def wilson_lower(positives: np.ndarray, n: np.ndarray, z: float = EVIDENCE_Z) -> np.ndarray:
    """One-sided Wilson score lower bound on a proportion of ``positives`` out of ``n`` (``n`` > 0)."""
    p = positives / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (centre - margin) / (1 + z2 / n)


def evidence_cutoff(scores: np.ndarray, labels: np.ndarray, precision: float = DEFAULT_THRESHOLDS["CRITICAL"]) -> float | None:
    """The lowest raw score whose accounts at or above it show ``precision`` at 95% confidence.

    Args:
        scores: Raw scores of the calibration accounts, ``[n]``.
        labels: Their 0/1 labels, ``[n]``.
        precision: The precision the Wilson lower bound must reach (by default CRITICAL's, whose
            cut-off is the precision it promises).

    Returns:
        The score, or ``None`` where no cut has the evidence.
    """
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last = np.r_[s[1:] != s[:-1], True]  # a cut keeps every account tied with it
    n = np.arange(1, len(s) + 1)[last]
    ok = np.flatnonzero(wilson_lower(np.cumsum(y)[last], n) >= precision)
    return float(s[last][ok[-1]]) if len(ok) else None


@dataclass
class Calibrator:
    """A monotone map from raw scores to probabilities (piecewise linear interpolation).

    Attributes:
        x: Raw-score knots, increasing.
        y: Calibrated probability at each knot, non-decreasing.
        thresholds: Level → minimum calibrated probability.
    """

    x: list[float]
    y: list[float]
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> Calibrator:
        """Fit isotonic regression of ``labels`` on ``scores`` (validation data), and CRITICAL's evidence."""
        if len(np.unique(labels)) < 2:  # nothing to fit: the raw log-odds read as they are, and no evidence for CRITICAL
            knots = np.linspace(-10.0, 10.0, 81)
            return cls(x=knots.tolist(), y=(1.0 / (1.0 + np.exp(-knots))).tolist(),
                       thresholds={**DEFAULT_THRESHOLDS, "CRITICAL": UNREACHED})
        scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)
        cal = cls(x=iso.X_thresholds_.tolist(), y=iso.y_thresholds_.tolist())
        cut = evidence_cutoff(scores, labels)
        evident = UNREACHED if cut is None else float(cal(np.array([cut]))[0])
        cal.thresholds["CRITICAL"] = max(DEFAULT_THRESHOLDS["CRITICAL"], evident)
        return cal

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw ``scores`` (strictly increasing in the score).

        Isotonic regression is a step function, which would tie many accounts at the same
        risk and destroy the ranking inside a step; a ``TIE_BREAK``-weighted sigmoid of the
        raw score keeps the order while moving no probability by more than ``TIE_BREAK``.
        """
        scores = np.asarray(scores, dtype=np.float64)
        iso = np.interp(scores, self.x, self.y)
        smooth = 1.0 / (1.0 + np.exp(-np.clip(scores, -50, 50)))
        return ((1 - TIE_BREAK) * iso + TIE_BREAK * smooth).astype(np.float32)

    def levels(self, risk: np.ndarray) -> np.ndarray:
        """Risk level names of calibrated probabilities."""
        out = np.full(len(risk), RISK_LEVELS[0], dtype=object)
        for level in RISK_LEVELS[1:]:
            out[risk >= self.thresholds[level]] = level
        return out

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
