"""Partial, noisy, delayed labels and the evaluation-only ground truth."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from graphs.synth.campaigns import Campaign
from graphs.synth.config import HARD_NEGATIVE_TYPES
from graphs.synth.population import DAY_S, Population

ROLES = ("creator", "regular", "lurker", "bot")
POSITIVE_SOURCES = np.array(["enforcement", "investigator", "user_reports"])
NEGATIVE_SOURCES = np.array(["appeal", "investigator", "review"])


def _utc(col: str) -> pl.Expr:
    return pl.from_epoch(col, time_unit="s").dt.replace_time_zone("UTC")


def _ids(pop: Population, rows: np.ndarray | None = None) -> pl.Series:
    """Public account ids (of ``rows``, or all) as text, formatted by Polars (NumPy unicode arrays
    are slow to build and to convert)."""
    return pl.Series(pop.ids if rows is None else pop.ids[rows]).cast(pl.String)


def _names(names: Sequence[str], codes: np.ndarray) -> pl.Series:
    """``names[codes]`` as a string column, gathered by Polars."""
    return pl.Series(list(names), dtype=pl.String).gather(codes)


def ground_truth(pop: Population, campaigns: list[Campaign]) -> pl.DataFrame:
    """account → is_abusive, campaign id/type, hard-negative type, role, creation time, age."""
    camp = pop.campaign.astype(np.int64)
    abusive = camp >= 0
    return pl.DataFrame({
        "account_id": _ids(pop),
        "is_abusive": abusive,
        "campaign_id": pl.Series(np.where(abusive, camp, 0)).cast(pl.Int64),
        "campaign_type": _names([c.ctype for c in campaigns] or ["none"], np.maximum(camp, 0)),
        "hard_negative_type": _names(HARD_NEGATIVE_TYPES, np.maximum(pop.hn, 0)),
        "_hn": pop.hn >= 0,
        "role": _names(ROLES, pop.role),
        "created": pop.created,
        "account_age_days": ((pop.end - pop.created) / DAY_S).astype(np.float32),
    }).with_columns(
        pl.when(pl.col("is_abusive")).then(pl.col("campaign_id")).alias("campaign_id"),
        pl.when(pl.col("is_abusive")).then(pl.col("campaign_type")).alias("campaign_type"),
        pl.when(pl.col("_hn")).then(pl.col("hard_negative_type")).alias("hard_negative_type"),
        _utc("created").alias("created_at"),
    ).drop("_hn", "created")


def make_labels(cfg, pop: Population, campaigns: list[Campaign], first_abuse: np.ndarray,  # noqa: ANN001
                first_bot_event: np.ndarray, rng: np.random.Generator) -> tuple[pl.DataFrame, dict[str, object]]:
    """What enforcement knows: a fraction of the abusive accounts, from the campaigns it has found,
    some benign verdicts (over-sampling suspicious-looking innocents), a share of wrong labels,
    each stamped some days after the activity that triggered it. ``first_abuse`` and
    ``first_bot_event`` are each account's first abusive action and (bots only) first action, in
    ms (int64 max where none).
    """
    abusive = pop.campaign >= 0
    n_ab = int(abusive.sum())
    known_campaigns = np.zeros(len(campaigns), bool)
    if campaigns:
        k = max(1, int(round(cfg.labeled_campaign_fraction * len(campaigns))))
        known_campaigns[rng.permutation(len(campaigns))[:k]] = True
    pool = np.flatnonzero(abusive & known_campaigns[np.maximum(pop.campaign, 0)]) if len(campaigns) else np.zeros(0, np.int64)
    k_pos = min(int(round(cfg.label_fraction * n_ab)), len(pool))
    pos = np.sort(rng.choice(pool, k_pos, replace=False)) if k_pos else np.zeros(0, np.int64)
    w = np.where(pop.hn[: pop.n_org] >= 0, 4.0, 1.0)
    k_neg = min(int(round(cfg.benign_label_fraction * pop.n_org)), pop.n_org)
    neg = np.sort(rng.choice(pop.n_org, k_neg, replace=False, p=w / w.sum())) if k_neg else np.zeros(0, np.int64)
    rows = np.concatenate([pos, neg]).astype(np.int64)
    truth = abusive[rows]
    label = truth.astype(np.int64)
    n_flip = int(round(cfg.label_noise * len(rows)))
    flip = rng.choice(len(rows), n_flip, replace=False) if n_flip else np.zeros(0, np.int64)
    label[flip] = 1 - label[flip]
    # When: the triggering activity (first abusive action; a bot that never took part in its
    # campaign's actions: its first action of any kind; others: a time in the log), plus the delay.
    never = np.iinfo(np.int64).max
    trigger_ms = np.where(first_abuse[rows] < never, first_abuse[rows], first_bot_event[rows])
    alive = np.maximum(pop.created[rows], pop.start)
    seen = np.where(trigger_ms < never, trigger_ms // 1000,
                    alive + (rng.random(len(rows)) * (pop.end - alive)).astype(np.int64))
    delay = (rng.exponential(cfg.label_delay_days * DAY_S, len(rows)) + 3600).astype(np.int64)
    ts = seen + delay
    source = np.where(label == 1, POSITIVE_SOURCES[rng.integers(0, 3, len(rows))], NEGATIVE_SOURCES[rng.integers(0, 3, len(rows))])
    order = rng.permutation(len(rows))
    labels = pl.DataFrame({
        "account_id": _ids(pop, rows[order]),
        "label": label[order],
        "source": source[order],
        "ts": ts[order],
    }).with_columns(_utc("ts").alias("ts"))
    stats = {
        "rows": int(len(rows)), "positive": int(label.sum()), "abusive_labelled": int(truth.sum()),
        "abusive_fraction_labelled": round(float(truth.sum()) / max(n_ab, 1), 4),
        "wrong": int(n_flip), "known_campaigns": [c.cid for c, k in zip(campaigns, known_campaigns) if k],
        "mean_delay_days": round(float(delay.mean()) / DAY_S, 3) if len(rows) else 0.0,
    }
    return labels, stats
