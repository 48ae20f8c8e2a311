"""Calibrated probabilities and risk levels.

Raw model scores are mapped to probabilities by isotonic regression fitted on validation
labels (never on training or test labels). Risk levels are cut-offs on the calibrated
probability, so a level's cut-off is the precision expected at that operating point:

=========  ==========================  =============================================
level      calibrated risk             meaning
=========  ==========================  =============================================
CRITICAL   ≥ 0.90                      precision ≥ 0.9: safe for automatic action
HIGH       ≥ 0.60                      likely abusive: friction (challenge, rate limit)
MEDIUM     ≥ 0.25                      worth a look: queue for review
LOW        < 0.25                      no action
=========  ==========================  =============================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.isotonic import IsotonicRegression

from ringwatch.types import RISK_LEVELS

TIE_BREAK = 1e-3
"""Weight of the order-keeping sigmoid blended into the isotonic map."""
DEFAULT_THRESHOLDS = {"MEDIUM": 0.25, "HIGH": 0.60, "CRITICAL": 0.90}


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
        """Fit isotonic regression of ``labels`` on ``scores`` (validation data)."""
        if len(np.unique(labels)) < 2:
            return cls(x=[0.0, 1.0], y=[0.0, 1.0])
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)
        return cls(x=iso.X_thresholds_.tolist(), y=iso.y_thresholds_.tolist())

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
