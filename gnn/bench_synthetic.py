"""Held-out-seed evaluation on generated logs with planted campaigns (``ringwatch evaluate --dataset synthetic``).

Protocol, per seed ``s``:

1. Two logs from :mod:`graphs.synth`: a *training* platform (seed ``1000 + s``) and a
   *held-out* platform (seed ``2000 + s``) — another population, other campaigns and
   customers, other hard negatives. Both go through the real Ray build.
2. Models train on the training platform's partial, noisy, delayed labels only (80 / 20
   stratified train / validation), with feature statistics from the training snapshot.
3. They score every account of the held-out platform inductively. Its own known labels (its
   ``labels.parquet``: what its enforcement knows) feed the label features, as they would in
   production; every account in that table is left out of the metrics, so no metric is
   computed on a label the scorer could see. Truth is the held-out platform's
   ``ground_truth.parquet``, which no model reads.
4. Metrics: AUROC, AUPRC, recall at 1% FPR, precision@100; recall per campaign type at the
   1%-FPR threshold; and for the shipped scorer, rings (:func:`gnn.rings.find_rings` on the
   calibrated risk, at the MEDIUM and HIGH floors): the share of ring members that are truly
   abusive (account precision) and the share of campaigns *found as a ring* — some ring
   whose members are mostly that campaign's covers at least half of the campaign; how many
   campaigns are split over several rings and how many of those are whole through the rings'
   related rings (:func:`split_campaigns`); each campaign's outcome — found, or missed by the
   scorer (under half of it within the rings' reach) or by the rings (:func:`campaign_outcomes`) — beside
   how many training labels showed a bot of its type (:func:`trained_campaign_types`: the
   training platform's ground truth is read for this reading alone, never by a model); and how
   well its calibrated risk, fitted on the training platform, holds on the held-out one
   (:func:`gnn.evaluate.calibration_metrics`).

``same_platform`` (``--same-platform``) is the production flow instead: the held-out platform
is also the training one (its own known labels, 80 / 20, its own feature statistics), every model
scores with the labels it trained on, and the metrics count the accounts no label names
(:func:`run_seed`).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from gnn.benchmark import BASELINE_BLOCKS, EVAL_CONFIG, MODELS, Progress, _summary, shared_gnn
from gnn.bwgnn import bwgnn_logits, fit_bwgnn
from gnn.coordination import coordination_score
from gnn.data import NODE_ROW, FeatureStats, GraphTensors, feature_names, load_graph, with_node_rows
from gnn.drift import DriftReference, drift_report
from gnn.ensemble import fit_hybrid_scorer, with_train_labels
from gnn.evaluate import calibration_metrics, calibration_summary, ranking_metrics, recall_at_fpr
from gnn.hybrid import FeatureSet, fit_trees, tree_margin
from gnn.rings import ATTACH_SHARE, RingEdges, find_rings
from gnn.train import TrainConfig, gnn_logits, label_index, stratified_split
from graphs.build import RayConfig
from ringwatch.types import SNAPSHOT_ACCOUNTS
from ringwatch.versions import Home

RING_FLOORS = ("MEDIUM", "HIGH")
RING_KIND_FLOOR = "MEDIUM"
"""The floor whose rings are described by kind (:func:`ring_kinds`) and by the campaigns they split
(:func:`split_campaigns`)."""
FOUND_COVERAGE = 0.5
"""A campaign is found as a ring when rings it dominates hold at least this share of it."""
PLATFORM_CAMPAIGNS = 12
"""Campaigns planted on each generated platform."""


def ring_recovery(account_ids: np.ndarray, ring_of: np.ndarray, truth: pl.DataFrame, exclude: set[str]) -> dict[str, Any]:
    """Account precision of ring members and the share of campaigns found as rings.

    Args:
        account_ids: Node order of ``ring_of``.
        ring_of: Ring id per node (``None`` outside rings).
        truth: ``account_id, is_abusive, campaign_id``.
        exclude: Accounts left out (known labels); they count neither way.

    Returns:
        ``members``, ``benign_members``, ``account_precision``, ``campaigns``, ``campaigns_found``,
        ``found_share``.
    """
    t, members, major = _campaign_rings(account_ids, ring_of, truth, exclude)
    precision = float(members["is_abusive"].mean()) if members.height else float("nan")
    cover = _coverage(t, members, major)
    found = int((cover["held"] >= FOUND_COVERAGE).sum())
    return {"members": members.height, "benign_members": int((~members["is_abusive"]).sum()),
            "account_precision": precision, "campaigns": cover.height,
            "campaigns_found": found, "found_share": found / max(cover.height, 1)}


def _coverage(t: pl.DataFrame, members: pl.DataFrame, major: pl.DataFrame) -> pl.DataFrame:
    """``campaign_id, len, held``: each campaign's counted accounts and the share of them that the
    rings it is the majority of hold (the three frames of :func:`_campaign_rings`)."""
    held = (members.join(major.select("ring_id", pl.col("campaign_id").alias("major")), on="ring_id")
            .filter(pl.col("campaign_id") == pl.col("major")).group_by("campaign_id").len().rename({"len": "held"}))
    sizes = t.filter(pl.col("campaign_id").is_not_null()).group_by("campaign_id").len()
    return sizes.join(held, on="campaign_id", how="left").with_columns(pl.col("held").fill_null(0) / pl.col("len"))


def trained_campaign_types(labels: pl.DataFrame, truth: pl.DataFrame) -> dict[str, int]:
    """Campaign type → how many of the training platform's labels mark a bot of that type abusive.

    Every label the scorer was given counts, the validation ones too (they train the cross-fit
    members and calibrate). A type with none is one the scorer never saw labelled (its campaigns
    were among those enforcement had not found, :func:`graphs.synth.labels.make_labels`): the
    supervised scorer can learn it only from what it shares with the labelled types.

    Args:
        labels: The training platform's ``labels.parquet`` (``account_id, label``).
        truth: Its ``ground_truth.parquet`` (``account_id, campaign_type``).
    """
    flagged = labels.filter(pl.col("label") == 1).select("account_id").unique()
    typed = truth.join(flagged, on="account_id").filter(pl.col("campaign_type").is_not_null())
    return dict(typed.group_by("campaign_type").len().iter_rows())


def campaign_outcomes(inputs: RingInputs, ring_of: np.ndarray, trained_types: dict[str, int] | None = None,
                      attach_share: float = ATTACH_SHARE) -> pl.DataFrame:
    """Each campaign of a held-out platform, whether its rings found it and, where not, whose miss it is.

    Only the accounts the scorer had no label for count, as in :func:`ring_recovery`. Rings hold
    accounts at or above ``attach_share`` times the floor (and known ones, which do not count), so
    a campaign with fewer than :data:`FOUND_COVERAGE` of its accounts in that reach cannot be found
    by any ring: that miss is the *scorer's*; one within reach but not held by rings of its own is
    the *rings'*.

    Args:
        inputs: The platform's ring inputs.
        ring_of: Ring id per node at the :data:`RING_KIND_FLOOR` floor (``None`` outside rings).
        trained_types: :func:`trained_campaign_types` of the training platform (``None``: not known).
        attach_share: ``find_rings``' setting of that name, which the rings were found with.

    Returns:
        ``campaign_id, campaign_type, accounts, at_floor, in_reach, held, found, cause,
        trained_labels``: the shares at the floor, in the rings' reach and held by rings the
        campaign is the majority of; ``cause`` ``found``, ``scorer`` or ``rings``;
        ``trained_labels`` null where not known.
    """
    t, members, major = _campaign_rings(inputs.account_ids, ring_of, inputs.truth, set(inputs.labelled))
    floor = inputs.floors[RING_KIND_FLOOR]
    kinds = inputs.truth.filter(pl.col("campaign_id").is_not_null()).group_by("campaign_id").agg(pl.col("campaign_type").first())
    # an account without events is no node: no risk, never in a ring
    risk = pl.DataFrame({"account_id": inputs.account_ids, "risk": inputs.risk})  # compared in its own dtype, as find_rings does
    shares = (t.filter(pl.col("campaign_id").is_not_null()).join(risk, on="account_id", how="left")
              .with_columns((pl.col("risk") >= floor).fill_null(False).alias("at"),
                            (pl.col("risk") >= attach_share * floor).fill_null(False).alias("reach"))
              .group_by("campaign_id").agg(pl.col("at").mean().alias("at_floor"), pl.col("reach").mean().alias("in_reach")))
    out = (_coverage(t, members, major).join(shares, on="campaign_id").join(kinds, on="campaign_id")
           .rename({"len": "accounts"})
           .with_columns((pl.col("held") >= FOUND_COVERAGE).alias("found"))
           .with_columns(pl.when(pl.col("found")).then(pl.lit("found"))
                         .when(pl.col("in_reach") < FOUND_COVERAGE).then(pl.lit("scorer")).otherwise(pl.lit("rings"))
                         .alias("cause")))
    trained = [None if trained_types is None else trained_types.get(c, 0) for c in out["campaign_type"].to_list()]
    return (out.with_columns(pl.Series("trained_labels", trained, dtype=pl.Int64))
            .select("campaign_id", "campaign_type", pl.col("accounts").cast(pl.Int64), "at_floor", "in_reach", "held", "found",
                    "cause", "trained_labels")
            .sort("campaign_id"))


def outcome_summary(outcomes: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Campaigns pooled by whether the training labels held their type.

    Args:
        outcomes: :func:`campaign_outcomes` rows, of one platform or several.

    Returns:
        ``type_labelled_in_training`` and ``type_not_labelled_in_training``, each with
        ``campaigns``, ``found``, ``missed_by_scorer`` and ``missed_by_rings`` (rows whose
        ``trained_labels`` is not known count in neither).
    """
    out: dict[str, dict[str, int]] = {}
    for name, labelled in (("type_labelled_in_training", True), ("type_not_labelled_in_training", False)):
        part = outcomes.filter(pl.col("trained_labels").is_not_null() & ((pl.col("trained_labels") > 0) == labelled))
        out[name] = {"campaigns": part.height, "found": int(part["found"].sum()),
                     "missed_by_scorer": int((part["cause"] == "scorer").sum()),
                     "missed_by_rings": int((part["cause"] == "rings").sum())}
    return out


def _campaign_rings(account_ids: np.ndarray, ring_of: np.ndarray, truth: pl.DataFrame,
                    exclude: set[str]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The accounts that count (``truth`` less ``exclude``, with their ``ring_id``), those of them
    in rings, and each ring's majority campaign (``ring_id, campaign_id``: more members than any
    other campaign and than the benign; rings with a benign or tied majority left out)."""
    rings = pl.DataFrame({"account_id": account_ids, "ring_id": pl.Series(ring_of.tolist(), dtype=pl.String)})
    t = (truth.select("account_id", "is_abusive", "campaign_id").join(rings, on="account_id", how="left")
         .filter(~pl.col("account_id").is_in(list(exclude))))
    members = t.filter(pl.col("ring_id").is_not_null())
    return t, members, _majority(members, "campaign_id").filter(pl.col("campaign_id").is_not_null())


def _majority(members: pl.DataFrame, by: str) -> pl.DataFrame:
    """``ring_id, <by>``: each ring's value of ``by`` held by more of its members than any other
    value (a null value counts as one); a ring with a tie at the top is left out."""
    counts = members.group_by("ring_id", by).len()
    top = counts.group_by("ring_id").agg(pl.col("len").max().alias("top"), (pl.col("len") == pl.col("len").max()).sum().alias("tied"))
    return counts.join(top, on="ring_id").filter((pl.col("len") == pl.col("top")) & (pl.col("tied") == 1)).select("ring_id", by)


def split_campaigns(account_ids: np.ndarray, ring_of: np.ndarray, table: pl.DataFrame, truth: pl.DataFrame,
                    exclude: set[str]) -> dict[str, int]:
    """Campaigns that are the majority of more than one ring, and how many of them are whole
    through the rings' related rings (every piece reaches every other along ``related``
    links between rings of that campaign, named in either ring's list).

    Args:
        account_ids: Node order of ``ring_of``.
        ring_of: Ring id per node (``None`` outside rings).
        table: The ring table of :func:`gnn.rings.find_rings` (``ring_id``, ``related``).
        truth: ``account_id, is_abusive, campaign_id``.
        exclude: Accounts left out (known labels), as in :func:`ring_recovery`.

    Returns:
        ``split`` (campaigns in two or more rings) and ``whole_through_related``.
    """
    _, _, major = _campaign_rings(account_ids, ring_of, truth, exclude)
    pieces: dict[Any, set[str]] = {}
    for ring, campaign in major.iter_rows():
        pieces.setdefault(campaign, set()).add(ring)
    related: dict[str, set[str]] = {}
    for ring, others in table.select("ring_id", "related").iter_rows():
        for other in others:  # either end's list relates the two (a list is cut at its longest)
            related.setdefault(ring, set()).add(other)
            related.setdefault(other, set()).add(ring)
    split = whole = 0
    for rings in pieces.values():
        if len(rings) < 2:
            continue
        split += 1
        reached, todo = set(), [min(rings)]
        while todo:
            ring = todo.pop()
            reached.add(ring)
            todo.extend((related.get(ring, set()) & rings) - reached)
        whole += reached == rings
    return {"split": split, "whole_through_related": whole}


RING_COLUMNS = ("synchrony", "ring_score", "mean_risk", "density", "size")
"""The ring table's columns whose power to tell campaign rings from mostly-benign ones is reported."""


def ring_kinds(account_ids: np.ndarray, ring_of: np.ndarray, table: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Each ring's kind: the campaign type most of its members belong to (``"benign"`` for a ring
    whose members are mostly organic; a tie is ``"mixed"``). Unlike :func:`ring_recovery`,
    labelled members count: this describes the rings as published.

    Args:
        account_ids: Node order of ``ring_of``.
        ring_of: Ring id per node (``None`` outside rings).
        table: The ring table of :func:`gnn.rings.find_rings` (``ring_id`` and :data:`RING_COLUMNS`).
        truth: ``account_id, campaign_type`` (null for organic accounts).

    Returns:
        ``ring_id, kind`` and :data:`RING_COLUMNS` (as float), one row per ring of ``table``.
    """
    members = (pl.DataFrame({"account_id": account_ids, "ring_id": pl.Series(ring_of.tolist(), dtype=pl.String)})
               .filter(pl.col("ring_id").is_not_null())
               .join(truth.select("account_id", pl.col("campaign_type").fill_null("benign")), on="account_id", how="left"))
    kind = _majority(members, "campaign_type")
    return (table.join(kind, on="ring_id", how="left")
            .select("ring_id", pl.col("campaign_type").fill_null("mixed").alias("kind"),
                    *(pl.col(c).cast(pl.Float64) for c in RING_COLUMNS)))


def ring_kind_summary(kinds: pl.DataFrame) -> dict[str, Any]:
    """Synchrony by kind of ring, and how well each ring column ranks campaign rings above the
    mostly-benign ones.

    Args:
        kinds: Rows of :func:`ring_kinds`, from any number of platforms.

    Returns:
        ``synchrony_by_majority_type``: per kind, its rings and their synchrony's mean and median
        (NaN synchrony left out; ``None`` where a kind has none). ``separation``: the counts of
        campaign and mostly-benign rings, and per column of :data:`RING_COLUMNS` its AUROC (ties
        half; mixed rings and NaN values left out; ``None`` without both kinds).
    """
    sync = pl.col("synchrony").fill_nan(None)
    by_type = {str(k): {"rings": n, "mean": mean, "median": median} for k, n, mean, median in (
        kinds.group_by("kind").agg(pl.len(), sync.mean().alias("mean"), sync.median().alias("median"))
        .sort("kind").iter_rows())}
    decided = kinds.filter(pl.col("kind") != "mixed")
    is_campaign = (decided["kind"] != "benign").to_numpy()
    auroc: dict[str, float | None] = {}
    for c in RING_COLUMNS:
        v = decided[c].to_numpy()
        said = np.isfinite(v)  # synchrony is NaN where a graph has no co-action relation
        both = 0 < is_campaign[said].sum() < said.sum()
        auroc[c] = float(roc_auc_score(is_campaign[said], v[said])) if both else None
    return {"synchrony_by_majority_type": by_type,
            "separation": {"floor": RING_KIND_FLOOR, "campaign_rings": int(is_campaign.sum()), "benign_rings": int((~is_campaign).sum()),
                           "auroc_campaign_vs_benign": auroc}}


def _platform(root: Path, seed: int, accounts: int, days: int) -> tuple[Path, dict[str, Any]]:
    """Generate one platform's log and build its snapshot; return the snapshot path and manifest."""
    from graphs.build import BuildParams, build_snapshot
    from graphs.synth import SynthConfig, generate

    out = root / f"log-{seed}"
    generate(out, SynthConfig(accounts=accounts, days=days, campaigns=PLATFORM_CAMPAIGNS, seed=seed))
    home = Home(root / f"home-{seed}")
    manifest = build_snapshot(home, BuildParams(events=[str(out / "events")], accounts_table=str(out / "accounts.parquet")))
    return home.snapshots.path(manifest["version"]), manifest


def training_label_types(seed: int, accounts: int, days: int) -> dict[str, int]:
    """:func:`trained_campaign_types` of seed ``seed``'s training platform (the held-out protocol's),
    from its log alone (generated again, not built: about a second), for a cached held-out platform.

    Args:
        seed: The seed pair (the training platform is ``1000 + seed``).
        accounts: Accounts per platform, as it was fitted with.
        days: Days per platform, as it was fitted with.
    """
    from graphs.synth import SynthConfig, generate

    with tempfile.TemporaryDirectory(prefix="ringwatch-synth-labels-") as tmp:
        out = Path(tmp)
        generate(out, SynthConfig(accounts=accounts, days=days, campaigns=PLATFORM_CAMPAIGNS, seed=1000 + seed))
        return trained_campaign_types(pl.read_parquet(out / "labels.parquet"), pl.read_parquet(out / "ground_truth.parquet"))


@dataclass(frozen=True)
class RingInputs:
    """What the ring stage reads on one held-out platform, as :func:`run_seed` scored it.

    Attributes:
        account_ids: Sorted account ids (node order).
        risk: The shipped scorer's calibrated risk per node.
        floors: Level → its calibrated-risk threshold, for :data:`RING_FLOORS`.
        edges: The platform's ring edges.
        known: Mask of the accounts the scorer's labels call abusive (they seed rings).
        truth: ``ground_truth.parquet`` of the platform.
        labelled: The accounts whose labels the scorer could see: never in a metric.
    """

    account_ids: np.ndarray
    risk: np.ndarray
    floors: dict[str, float]
    edges: RingEdges
    known: np.ndarray
    truth: pl.DataFrame
    labelled: frozenset[str]


def ring_report(inputs: RingInputs, trained_types: dict[str, int] | None = None, **ring_settings: Any) -> dict[str, Any]:
    """Rings at each of :data:`RING_FLOORS` and what :func:`evaluate_synthetic` reports of them.

    Args:
        inputs: One held-out platform's ring inputs.
        trained_types: :func:`trained_campaign_types` of the training platform, for
            ``campaigns`` (``None``: not known).
        **ring_settings: Keyword arguments of :func:`gnn.rings.find_rings` other than the floor
            and the known accounts (default: the shipped settings).

    Returns:
        ``rings`` (floor → :func:`ring_recovery`), ``ring_kinds`` (:func:`ring_kinds`),
        ``split_campaigns`` (:func:`split_campaigns`) and ``campaigns``
        (:func:`campaign_outcomes`), the last three at :data:`RING_KIND_FLOOR`.
    """
    found = {floor: find_rings(inputs.account_ids, inputs.risk, inputs.edges, risk_floor=inputs.floors[floor],
                               known=inputs.known, **ring_settings) for floor in RING_FLOORS}
    ring_of, table = found[RING_KIND_FLOOR]
    return {"rings": {floor: ring_recovery(inputs.account_ids, r, inputs.truth, set(inputs.labelled)) for floor, (r, _) in found.items()},
            "ring_kinds": ring_kinds(inputs.account_ids, ring_of, table, inputs.truth),
            "split_campaigns": split_campaigns(inputs.account_ids, ring_of, table, inputs.truth, set(inputs.labelled)),
            "campaigns": campaign_outcomes(inputs, ring_of, trained_types, ring_settings.get("attach_share", ATTACH_SHARE))}


def _known(graph: GraphTensors, labels: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    nodes, y = label_index(graph, labels.unique("account_id", keep="last"))
    return nodes, y


def run_seed(seed: int, cfg: TrainConfig, models: tuple[str, ...], accounts: int, days: int,
             log: Progress | None = None, same_platform: bool = False) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """One training platform and one held-out platform; metrics per model and ring recovery.

    With ``same_platform`` the held-out platform is also the training one, as in production
    (``ringwatch train`` then ``ringwatch score`` on one platform): the models train on its own
    known labels (80 / 20 as above; ``ringwatch train`` holds out a quarter), with its own feature
    statistics, and score with the labels they trained on, as ``ringwatch score`` does. The
    metrics still count only the accounts no label names; there is no drift to read.
    """
    with tempfile.TemporaryDirectory(prefix="ringwatch-synth-eval-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        train_seed = 2000 + seed if same_platform else 1000 + seed
        pb, _ = _platform(root, 2000 + seed, accounts, days)
        pa = pb if same_platform else _platform(root, train_seed, accounts, days)[0]
        if log:
            log(f"synthetic seed {seed}: {'one platform' if same_platform else 'two platforms'} generated and built "
                f"in {time.perf_counter() - t:.0f}s")
        accounts_a = pl.read_parquet(pa / SNAPSHOT_ACCOUNTS)
        names = feature_names(accounts_a)
        stats = FeatureStats.fit(accounts_a, names)
        ga, _ = load_graph(pa, stats)
        gb = ga if same_platform else load_graph(pb, stats)[0]
        labels_b = pl.read_parquet(root / f"log-{2000 + seed}" / "labels.parquet")
        truth = pl.read_parquet(root / f"log-{2000 + seed}" / "ground_truth.parquet")
        labels_a = labels_b if same_platform else pl.read_parquet(root / f"log-{train_seed}" / "labels.parquet")
        truth_a = truth if same_platform else pl.read_parquet(root / f"log-{train_seed}" / "ground_truth.parquet")
        trained_types = trained_campaign_types(labels_a, truth_a)
    nodes_a, y_a = _known(ga, labels_a)
    tr, va = stratified_split(y_a, 0.2, seed)
    known_b, y_known_b = _known(gb, labels_b)
    labelled_b = gb.account_ids[known_b].tolist()  # visible to the scorer: never in a metric
    fa = FeatureSet.of(ga, names, cfg.nbr_max)
    fb = fa.on(gb)  # the same columns as the training platform
    cfg = replace(cfg, seed=seed)
    # the label features at scoring: the held-out platform's known labels; on the training platform itself,
    # the labels the models trained on (as `ringwatch score` reads them)
    score_labels = (nodes_a[tr], y_a[tr]) if same_platform else (known_b, y_known_b)
    raw: dict[str, np.ndarray] = {}
    if "coordination" in models:
        raw["coordination"] = coordination_score(gb)
    for model, blk in BASELINE_BLOCKS.items():
        if model in models:
            Xa, cols = fa.matrix(blk, nodes_a[tr], y_a[tr])
            booster = fit_trees(Xa, nodes_a[tr], y_a[tr], nodes_a[va], y_a[va], cfg, cols)
            raw[model] = tree_margin(booster, fb.matrix(blk, *score_labels)[0])
    if "bwgnn" in models:
        raw["bwgnn"] = bwgnn_logits(fit_bwgnn(ga, nodes_a[tr], y_a[tr], nodes_a[va], y_a[va], cfg), gb)
    extra: dict[str, Any] = {}
    if "gnn" in models or "hybrid" in models:
        gs = shared_gnn(ga, nodes_a[tr], y_a[tr], nodes_a[va], y_a[va], cfg, models)
        if gs is not None:
            raw["gnn"] = gs.platt(gnn_logits(gs.gnn, gb))
        if "hybrid" in models:
            fit = fit_hybrid_scorer(ga, names, nodes_a[tr], y_a[tr], nodes_a[va], y_a[va], cfg, fs=fa, gnn_scores=gs)
            deployed = fit.model if same_platform else with_train_labels(fit.model, pl.DataFrame(
                {"account_id": gb.account_ids[known_b], "label": np.asarray(y_known_b, np.int64)}))
            X, _ = deployed.features(gb, fb)
            raw["hybrid"] = deployed.margin(X)
            cal = fit.calibrator()
            risk = cal(raw["hybrid"])
            if not same_platform:
                # what `ringwatch score` would warn about: the held-out platform against the training one
                reference = DriftReference.fit(ga.x.numpy(), names, cal(fit.raw), cal.thresholds)
                extra["drift"] = drift_report(reference, gb.x.numpy(), names, risk, cal.thresholds)
            # as `ringwatch score` seeds rings: the platform's known abusive accounts
            extra["ring_inputs"] = RingInputs(gb.account_ids, risk, {f: cal.thresholds[f] for f in RING_FLOORS},
                                              RingEdges.of(gb), deployed.known_abusive(gb), truth, frozenset(labelled_b))
            extra.update(ring_report(extra["ring_inputs"], trained_types))
    t_b = with_node_rows(gb.account_ids, truth).filter(~pl.col("account_id").is_in(labelled_b))
    rows, y = t_b[NODE_ROW].to_numpy(), t_b["is_abusive"].cast(pl.Int64).to_numpy()
    ctype = t_b["campaign_type"].to_numpy()
    metrics: dict[str, dict[str, Any]] = {}
    for model in models:
        p = raw[model][rows].astype(np.float64)
        m: dict[str, Any] = ranking_metrics(y, p)
        _, thr = recall_at_fpr(y, p)
        m["per_campaign"] = {str(c): float((p[ctype == c] >= thr).mean()) for c in sorted({c for c in ctype if c is not None})}
        metrics[model] = m
    if "hybrid" in models:
        extra["calibration"] = calibration_metrics(y, risk[rows], cal.thresholds)
    extra["first"] = {"y": y, "scores": {m: raw[m][rows] for m in models},
                      "risk": risk[rows] if "hybrid" in models else None}
    extra["held_out_accounts"] = int(len(rows))
    extra["held_out_abusive"] = int(y.sum())
    return metrics, extra


def _log_seed(log: Progress | None, seed: int, metrics: dict[str, dict[str, Any]], extra: dict[str, Any]) -> None:
    if log is None:
        return
    rings = extra.get("rings", {}).get("MEDIUM", {})
    log(f"  seed {seed}: " + ", ".join(f"{m} {v['auroc']:.3f}/{v['auprc']:.3f} r@1% {v['recall_at_1pct_fpr']:.3f}"
                                       for m, v in metrics.items())
        + (f"; rings: {rings['campaigns_found']}/{rings['campaigns']} campaigns, precision {rings['account_precision']:.3f}"
           if rings else "")
        + (f"; {split['split']} campaign(s) in several rings, {split['whole_through_related']} whole through related rings"
           if (split := extra.get("split_campaigns")) else "")
        + (f"; drift: {d['features_moved']} features moved, MEDIUM or above {d['level_shares']['MEDIUM']['trained']:.1%}"
           f" trained, {d['level_shares']['MEDIUM']['scored']:.1%} held out" + (" (warned)" if d["warnings"] else "")
           if (d := extra.get("drift")) else ""))


def drift_by_seed(seeds: range, extras: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per seed, what `ringwatch score` would have warned about the held-out platform (:mod:`gnn.drift`)
    beside how the levels and rings held there, so a warning can be read against the harm it flags."""
    out = []
    for seed, e in zip(seeds, extras):
        if "drift" not in e:
            continue
        d, cal, rings = e["drift"], e.get("calibration", {}), e.get("rings", {}).get("MEDIUM", {})
        out.append({"seed": seed, "warned": bool(d["warnings"]), "features_moved": d["features_moved"],
                    "medium_share_trained": d["level_shares"]["MEDIUM"]["trained"],
                    "medium_share_held_out": d["level_shares"]["MEDIUM"]["scored"],
                    **{f"precision_at_{lvl}": cal.get(f"precision_at_{lvl}") for lvl in ("MEDIUM", "HIGH", "CRITICAL")},
                    "ring_account_precision": rings.get("account_precision")})
    return out


def _mean_of_defined(values: list[float | None]) -> float:
    """The mean of the values that are numbers (not ``None`` or NaN); NaN when none is."""
    defined = [v for v in values if v is not None and v == v]
    return float(np.mean(defined)) if defined else float("nan")


def evaluate_synthetic(seeds: int = 5, cfg: TrainConfig = EVAL_CONFIG, models: tuple[str, ...] = MODELS,
                       log: Progress | None = None, accounts: int = 10_000, days: int = 7, first_seed: int = 0,
                       same_platform: bool = False, ray_config: RayConfig | None = None) -> dict[str, Any]:
    """Run the protocol above over ``seeds`` pairs of platforms, seeds ``first_seed`` onwards (one
    Ray, ``ray_config``'s, for every build; a later ``first_seed`` gives fresh platforms no rule was
    tuned on). ``same_platform``: each held-out platform trains its own models instead (:func:`run_seed`)."""
    import ray

    from graphs.build import init_ray

    per_seed, extras = [], []
    started = init_ray(ray_config or RayConfig())
    try:
        for seed in range(first_seed, first_seed + seeds):
            metrics, extra = run_seed(seed, cfg, models, accounts, days, log, same_platform)
            extra.pop("ring_inputs", None)  # for scripts/bench_rings.py; not kept over the seeds
            per_seed.append(metrics)
            extras.append(extra)
            _log_seed(log, seed, metrics, extra)
    finally:
        if started:
            ray.shutdown()
    # a campaign type only some platforms plant, and ring precision where a platform has no ring
    # member, are averaged over the seeds that have them
    per_campaign = {m: {c: _mean_of_defined([s[m]["per_campaign"].get(c) for s in per_seed])
                        for c in sorted({c for s in per_seed for c in s[m]["per_campaign"]})} for m in per_seed[0]}
    rings = {floor: {k: _mean_of_defined([e["rings"][floor][k] for e in extras]) for k in extras[0]["rings"][floor]}
             for floor in RING_FLOORS} if extras and "rings" in extras[0] else {}
    kinds = [e["ring_kinds"] for e in extras if "ring_kinds" in e]
    splits = [e["split_campaigns"] for e in extras if "split_campaigns" in e]
    ring_kind = ring_kind_summary(pl.concat(kinds)) if kinds else {}
    outcomes = [e["campaigns"].with_columns(pl.lit(seed).alias("seed"))
                for seed, e in zip(range(first_seed, first_seed + seeds), extras) if "campaigns" in e]
    pooled = pl.concat(outcomes) if outcomes else None
    return {"dataset": "synthetic", "seeds": seeds, "first_seed": first_seed, "accounts": accounts, "days": days,
            "protocol": ("train on the scored platform's own partial, noisy labels, as in production; score its "
                         "accounts no label names" if same_platform else
                         "train on one generated platform's partial, noisy labels; score a platform from another seed "
                         "(its known labels feed label features and are left out of the metrics)"),
            "same_platform": same_platform,
            "models": _summary(per_seed), "per_campaign_recall_at_1pct_fpr": per_campaign, "rings": rings,
            "calibration": calibration_summary([e["calibration"] for e in extras if "calibration" in e]),
            "ring_synchrony_by_majority_type": ring_kind.get("synchrony_by_majority_type", {}),
            "ring_kind_separation": ring_kind.get("separation", {}),
            "split_campaigns": {k: sum(x[k] for x in splits) for k in splits[0]} if splits else {},
            "campaigns_by_training_labels": outcome_summary(pooled) if pooled is not None else {},
            "missed_campaigns": (pooled.filter(~pl.col("found")).select("seed", pl.exclude("seed", "found")).to_dicts()
                                 if pooled is not None else []),
            "ring_rule": f"a campaign is found when rings whose majority is that campaign hold >= {FOUND_COVERAGE:.0%} of it",
            "held_out": [{k: e[k] for k in ("held_out_accounts", "held_out_abusive")} for e in extras],
            "drift": drift_by_seed(range(first_seed, first_seed + seeds), extras),
            "goal": {"recall_at_1pct_fpr": 0.90, "campaigns_found_as_rings": 0.95, "ring_account_precision": 0.99},
            "_first": extras[0]["first"] if extras else {}}
