"""Evaluate scores against held-out truth.

Metrics: AUROC, AUPRC, recall at 1% false-positive rate, precision at the top k, and, when
the truth table names campaigns, recall per campaign type at the 1%-FPR threshold. For calibrated
risk, :func:`calibration_metrics` says whether the probabilities and the risk levels keep their
promise on held-out accounts (Brier score, calibration error, each level's precision and recall).
Accounts whose labels were used for training must be excluded by the caller (``exclude``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from ringwatch.errors import InputError


def recall_at_fpr(y: np.ndarray, p: np.ndarray, fpr_target: float = 0.01) -> tuple[float, float]:
    """Highest recall with FPR ≤ ``fpr_target``, and the score threshold reaching it (over every
    threshold: sklearn's default drops those on a straight stretch of the curve, and with tied
    scores the one reaching exactly ``fpr_target`` can be among them)."""
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
    ok = np.flatnonzero(fpr <= fpr_target)
    i = ok[np.argmax(tpr[ok])]
    return float(tpr[i]), float(thr[i])


def ranking_metrics(y: np.ndarray, p: np.ndarray, top_k: int = 100) -> dict[str, float]:
    """AUROC, AUPRC, recall@1%FPR and precision@k of scores ``p`` for labels ``y``.

    With fewer than ``top_k`` accounts, precision@k is taken over all of them (the base rate); the
    key keeps its name and ``top_k`` says how many accounts it covered.
    """
    if len(np.unique(y)) < 2:
        raise InputError("evaluation needs both abusive and benign accounts in the truth table")
    rec, _ = recall_at_fpr(y, p)
    k = min(top_k, len(p))
    top = np.argsort(-p, kind="stable")[:k]
    return {"auroc": float(roc_auc_score(y, p)), "auprc": float(average_precision_score(y, p)),
            "recall_at_1pct_fpr": rec, f"precision_at_{top_k}": float(y[top].mean()),
            "top_k": k, "n": int(len(y)), "positives": int(y.sum())}


CALIBRATION_BINS = 10
"""Equal-width risk bins of the expected calibration error (the report's calibration plot uses the same)."""


def risk_bins(risk: np.ndarray) -> np.ndarray:
    """The :data:`CALIBRATION_BINS` equal-width bin of each calibrated risk (``0`` to ``CALIBRATION_BINS - 1``;
    a risk of 1 is in the last), as :func:`calibration_metrics` and the report's calibration plot bin it."""
    return np.clip((np.asarray(risk, np.float64) * CALIBRATION_BINS).astype(np.int64), 0, CALIBRATION_BINS - 1)


def calibration_metrics(y: np.ndarray, risk: np.ndarray, thresholds: dict[str, float]) -> dict[str, float | None]:
    """How well calibrated risk matches held-out labels.

    Args:
        y: 0/1 labels, ``[n]``.
        risk: Calibrated probabilities, ``[n]``.
        thresholds: Risk level → lowest risk of the level (:attr:`gnn.calibration.Calibrator.thresholds`).

    Returns:
        ``brier`` (mean squared error of the probability), ``ece`` (expected calibration error over
        :data:`CALIBRATION_BINS` equal-width bins: the account-weighted gap between mean risk and the
        abusive share), and per level ``precision_at_LEVEL`` (abusive share of the accounts at or above
        its floor; ``None`` where none is) and ``recall_at_LEVEL``.
    """
    y = np.asarray(y, np.float64)
    risk = np.asarray(risk, np.float64)
    if len(y) != len(risk) or not len(y):
        raise InputError(f"calibration metrics need one risk per label; got {len(risk)} risks and {len(y)} labels")
    out: dict[str, float | None] = {"brier": float(np.mean((risk - y) ** 2))}
    bins = risk_bins(risk)
    gap = np.abs(np.bincount(bins, risk, CALIBRATION_BINS) - np.bincount(bins, y, CALIBRATION_BINS))
    out["ece"] = float(gap.sum() / len(y))  # per bin |mean risk - share| weighted by its accounts
    positives = max(float(y.sum()), 1.0)
    for level, floor in thresholds.items():
        at = risk >= floor
        out[f"precision_at_{level}"] = float(y[at].mean()) if at.any() else None
        out[f"recall_at_{level}"] = float(y[at].sum() / positives)
    return out


def calibration_summary(per_seed: list[dict[str, float | None]]) -> dict[str, dict[str, Any]]:
    """Mean, standard deviation, minimum and values per seed of each :func:`calibration_metrics` figure
    (a level no account reached on a seed is left out of its mean; ``seeds`` counts those kept)."""
    out: dict[str, dict[str, Any]] = {}
    for key in per_seed[0] if per_seed else ():
        vals = [s[key] for s in per_seed]
        kept = [v for v in vals if v is not None]
        out[key] = {"mean": float(np.mean(kept)) if kept else None, "std": float(np.std(kept)) if kept else None,
                    "min": float(np.min(kept)) if kept else None, "seeds": len(kept), "values": vals}
    return out


def truth_labels(truth: pl.DataFrame) -> pl.DataFrame:
    """The truth table with a 0/1 ``_y`` column, one row per account.

    Raises:
        InputError: No ``label`` / ``is_abusive`` column, a label that is not 0/1 (or a
            boolean), or one account listed with both labels.
    """
    if "account_id" not in truth.columns or ("label" not in truth.columns and "is_abusive" not in truth.columns):
        raise InputError(f"truth table needs account_id and a label or is_abusive column; it has {', '.join(truth.columns)}")
    col = "label" if "label" in truth.columns else "is_abusive"
    try:
        t = truth.with_columns(pl.col("account_id").cast(pl.String), pl.col(col).cast(pl.Float64, strict=False).alias("_y"))
    except pl.exceptions.PolarsError as exc:  # a nested column casts to neither
        raise InputError(f"truth table: account_id must be text or a number and {col} 0/1; got {truth.schema}") from exc
    bad = t.filter(pl.col("_y").is_null() | ~pl.col("_y").is_in([0.0, 1.0]) | pl.col("account_id").is_null())
    if bad.height:
        raise InputError(f"truth table: {bad.height} row(s) lack an account_id or a {col} of 0/1 (or a boolean; "
                         f"{col} is {truth.schema[col]})")
    t = t.with_columns(pl.col("_y").cast(pl.Int64))
    conflicting = t.group_by("account_id").agg(pl.col("_y").n_unique().alias("n")).filter(pl.col("n") > 1)
    if conflicting.height:
        raise InputError(f"truth table: {conflicting.height} account(s) are listed as both abusive and benign, e.g. "
                         f"{conflicting['account_id'][0]!r}")
    return t.unique(subset="account_id", keep="first", maintain_order=True)


def read_truth(path: Path) -> pl.DataFrame:
    """A truth table from a parquet file, as it is (:func:`evaluate_scores` checks its labels).

    Raises:
        InputError: The file is missing or not a readable parquet table.
    """
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read the truth table {path} ({exc}); give a parquet file with account_id and label") from exc


def evaluate_scores(scores: pl.DataFrame, truth: pl.DataFrame, exclude: set[str] | None = None, score_col: str = "risk") -> dict[str, Any]:
    """Compare a score table with a truth table.

    Args:
        scores: ``account_id`` and ``score_col``.
        truth: ``account_id`` and ``label`` (0/1) or ``is_abusive`` (bool); optional
            ``campaign_type``.
        exclude: Account ids to leave out (e.g. the training labels).
        score_col: Column of ``scores`` to rank by.

    Returns:
        Overall metrics with ``truth_rows``, ``matched`` (in the score set),
        ``unmatched_truth`` and ``excluded_training_labels`` (matched rows left out), and,
        with campaigns, ``per_campaign`` recall.

    Raises:
        InputError: Bad truth labels (:func:`truth_labels`) or no truth account in the scores.
    """
    t = truth_labels(truth)
    matched = scores.select(pl.col("account_id").cast(pl.String), score_col).join(t, on="account_id", how="inner")
    if matched.is_empty():
        raise InputError(f"no account of the truth table ({t.height} rows) is in the score set ({scores.height} accounts); "
                         "check that both name the same accounts")
    joined = matched.filter(~pl.col("account_id").is_in(list(exclude))) if exclude else matched
    y = joined["_y"].to_numpy()
    p = joined[score_col].to_numpy().astype(np.float64)
    result: dict[str, Any] = ranking_metrics(y, p)
    result.update(truth_rows=t.height, matched=matched.height, unmatched_truth=t.height - matched.height,
                  excluded_training_labels=matched.height - joined.height)
    if "campaign_type" in joined.columns:
        _, thr = recall_at_fpr(y, p)
        per = (joined.filter(pl.col("_y") == 1).group_by("campaign_type")
               .agg(pl.len().alias("accounts"), (pl.col(score_col) >= thr).mean().alias("recall_at_1pct_fpr"))
               .sort("campaign_type"))
        result["per_campaign"] = {r["campaign_type"]: {"accounts": r["accounts"], "recall_at_1pct_fpr": r["recall_at_1pct_fpr"]}
                                  for r in per.iter_rows(named=True) if r["campaign_type"] is not None}
    return result
