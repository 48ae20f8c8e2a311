"""Population drift between the snapshot a model was trained on and a snapshot it scores.

A model's levels are calibrated on labels of its training snapshot. Where the scored
population differs — another market, a product change, a season — the ranking can hold while
the levels do not: on the held-out synthetic platforms the scorer still ranks abusive accounts
first (AUROC 0.998) but a platform whose users are quieter and reply more puts ten times the
benign accounts at MEDIUM, and the ring stage publishes them (README, item 19 of the detection
notes). So every score set carries two readings against the training snapshot:

* **level shares**: the share of accounts at each level or above, scored against trained; far
  off at MEDIUM, a warning;
* **feature PSI**: the population stability index of each own feature, as the model reads
  it (log-scaled and standardised with the training statistics), over the training
  snapshot's deciles; the most moved are named in the warning, as where to look.

A level share can also move with a real change in abuse (a campaign wave), so the warning says
what moved and leaves the call to a person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ringwatch.types import RISK_LEVELS

PSI_BINS = 10
"""Deciles of the training snapshot: the usual binning of the population stability index."""
PSI_FLOOR = 1e-4
"""Share given to an empty bin, so that a bin one side never fills keeps the index finite."""
PSI_ALERT = 0.25
"""A feature's PSI above this has moved materially (the conventional reading: < 0.1 stable,
0.1–0.25 some movement, > 0.25 a different population). A reading, named in the level warning:
alone it did not tell harm — two of ten fresh held-out platforms had three and five features
over it and levels as precise as on the training platform (README, item 19)."""
LEVEL_ALERT_FLOOR = "MEDIUM"
"""The level whose share of accounts (at it or above) is compared."""
LEVEL_ALERT_RATIO = 1.5
"""Warn when that share is at least this many times the training snapshot's (or at most its
inverse): half as many again flagged is where, on the held-out platforms, the levels stopped
holding (README, item 19)."""
LEVEL_ALERT_MIN_SHARE = 0.01
"""... and the two shares differ by at least this much of all accounts (tiny snapshots' noise)."""
SAMPLE_ROWS = 200_000
"""Accounts read per snapshot, evenly spaced in node order: decile shares over 200,000 accounts are
within about 0.1 point of the full count, and 1M accounts are read in a tenth of the time."""
TOP_FEATURES = 5
"""Most-moved features named in a report."""


@dataclass(frozen=True)
class DriftReference:
    """The training snapshot's distributions that later snapshots are compared with.

    Attributes:
        names: Own feature names (columns of the graph's ``x``).
        edges: Per feature, the inner decile cut points of its training values (deduplicated).
        shares: Per feature, the share of training accounts in each bin (``len(edges) + 1``).
        level_shares: Level → share of training accounts at that level or above.
    """

    names: list[str]
    edges: list[list[float]]
    shares: list[list[float]]
    level_shares: dict[str, float]

    @classmethod
    def fit(cls, x: np.ndarray, names: list[str], risk: np.ndarray, thresholds: dict[str, float]) -> DriftReference:
        """Reference of a training snapshot.

        Args:
            x: Own features as the model reads them, ``[num_accounts, len(names)]``.
            names: Their names.
            risk: Each account's calibrated risk as the trained model scores it, ``[num_accounts]``.
            thresholds: Level → its calibrated-risk cut-off (the model's calibrator's).
        """
        x = _sample(x)
        edges, shares = [], []
        for j in range(x.shape[1]):
            cuts = np.unique(np.quantile(x[:, j], np.linspace(0, 1, PSI_BINS + 1)[1:-1])) if len(x) else np.zeros(0)
            edges.append(cuts.tolist())
            shares.append(_bin_shares(x[:, j], cuts).tolist())
        return cls(list(names), edges, shares, level_shares(risk, thresholds))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReference:
        return cls(data["names"], data["edges"], data["shares"], data["level_shares"])


def level_shares(risk: np.ndarray, thresholds: dict[str, float]) -> dict[str, float]:
    """Level → share of the accounts at that level or above (every level but the lowest).

    Shapes:
        risk: ``[num_accounts]`` calibrated risk.
    """
    return {lvl: float((risk >= thresholds[lvl]).mean()) if len(risk) else 0.0 for lvl in RISK_LEVELS[1:]}


def _sample(x: np.ndarray) -> np.ndarray:
    """At most :data:`SAMPLE_ROWS` evenly spaced rows of ``x``, one contiguous row per feature."""
    x = np.asarray(x)
    rows = np.linspace(0, len(x) - 1, SAMPLE_ROWS).round().astype(np.int64) if len(x) > SAMPLE_ROWS else slice(None)
    return np.ascontiguousarray(x[rows].T, dtype=np.float64).T


def _bin_shares(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(cuts, values, side="right"), minlength=len(cuts) + 1)
    return counts / max(len(values), 1)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two bin-share vectors: ``Σ (a − e) · ln(a / e)``.

    Empty bins count as :data:`PSI_FLOOR`. 0 for equal shares; symmetric in its arguments.
    """
    e = np.maximum(np.asarray(expected, np.float64), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, np.float64), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_report(reference: DriftReference, x: np.ndarray, names: list[str], risk: np.ndarray,
                 thresholds: dict[str, float]) -> dict[str, Any]:
    """How far a scored snapshot is from a model's training snapshot.

    Args:
        reference: The model's :class:`DriftReference`.
        x: The scored snapshot's own features as the model reads them, ``[num_accounts, len(names)]``.
        names: Their names; features the reference lacks are skipped.
        risk: Each scored account's calibrated risk, ``[num_accounts]``.
        thresholds: Level → its calibrated-risk cut-off.

    Returns:
        ``psi`` (the :data:`TOP_FEATURES` most-moved features → PSI), ``features_moved`` (how
        many are over :data:`PSI_ALERT`), ``features`` (how many were compared),
        ``level_shares`` (level → ``{"trained", "scored"}``) and ``warnings`` (sentences).
    """
    x = _sample(x)
    position = {n: j for j, n in enumerate(reference.names)}
    index = {}  # feature → its PSI, for every feature the reference has
    for j, name in enumerate(names):
        k = position.get(name)
        if k is not None:
            index[name] = psi(reference.shares[k], _bin_shares(x[:, j], np.asarray(reference.edges[k])))
    top = dict(sorted(index.items(), key=lambda kv: -kv[1])[:TOP_FEATURES])
    n_moved = sum(v > PSI_ALERT for v in index.values())
    scored = level_shares(np.asarray(risk), thresholds)
    shares = {lvl: {"trained": round(reference.level_shares.get(lvl, 0.0), 5), "scored": round(scored[lvl], 5)}
              for lvl in scored}
    warnings = []
    trained, now = reference.level_shares.get(LEVEL_ALERT_FLOOR, 0.0), scored[LEVEL_ALERT_FLOOR]
    ratio = now / trained if trained > 0 else float("inf")
    if abs(now - trained) >= LEVEL_ALERT_MIN_SHARE and (ratio >= LEVEL_ALERT_RATIO or ratio <= 1 / LEVEL_ALERT_RATIO):
        named = ", ".join(f"{n} {v:.2f}" for n, v in top.items() if v > PSI_ALERT)
        warnings.append(f"{now:.1%} of the accounts are at {LEVEL_ALERT_FLOOR} or above against {trained:.1%} on the "
                        f"model's training snapshot: either abuse has changed that much or the population has moved "
                        f"and the levels {'over' if now > trained else 'under'}-flag ("
                        + (f"{n_moved} of {len(index)} features moved materially, PSI over {PSI_ALERT}: {named}"
                           if n_moved else "no feature moved materially")
                        + "); review a sample before acting on the levels, and retrain on this population "
                          "(`ringwatch train`) if it has moved")
    return {"psi": {n: round(v, 4) for n, v in top.items()}, "features_moved": n_moved, "features": len(index),
            "level_shares": shares, "warnings": warnings}
