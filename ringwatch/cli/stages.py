"""Stage verbs: synth, build, train, score, evaluate, label."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import polars as pl
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringwatch.cli.common import batch_settings, console, emit_json, settings
from ringwatch.errors import ConfigError, InputError, NotFoundError, RingwatchError
from ringwatch.json_text import dumps_strict, write_json
from ringwatch.versions import Home

if TYPE_CHECKING:
    from graphs.build import RayConfig
    from ringwatch.settings import Settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print a machine-readable result on stdout.")]


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def _parse_time(value: str | None, flag: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{flag} must be an ISO date or time such as 2026-11-01 or 2026-11-01T12:00:00Z, got {value!r}") from exc
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def synth_cmd(
    out: Annotated[Optional[Path], typer.Option(help="Target folder (default: HOME/synth).")] = None,
    accounts: Annotated[int, typer.Option(help="Organic accounts (the issue's full size: 100000).")] = 20_000,
    days: Annotated[int, typer.Option(help="Days of events.")] = 7,
    campaigns: Annotated[int, typer.Option(help="Planted coordinated campaigns.")] = 12,
    campaign_mix: Annotated[Optional[str], typer.Option(help="Comma-separated campaign types to rotate through (default: all).")] = None,
    bots_per_campaign: Annotated[int, typer.Option(help="Median accounts per campaign.")] = 40,
    events_per_account_day: Annotated[float, typer.Option(help="Mean organic events per account per day.")] = 6.0,
    camouflage: Annotated[float, typer.Option(help="Multiplier of the organic-looking cover activity of bots.")] = 1.0,
    lockstep_spread_s: Annotated[float, typer.Option(help="Typical spread of a lockstep burst, seconds.")] = 900.0,
    label_fraction: Annotated[float, typer.Option(help="Share of abusive accounts with a known label.")] = 0.5,
    labeled_campaign_fraction: Annotated[float, typer.Option(help="Share of campaigns enforcement knows at all.")] = 0.75,
    label_noise: Annotated[float, typer.Option(help="Share of wrong labels.")] = 0.02,
    label_delay_days: Annotated[float, typer.Option(help="Mean label delay after the activity, days.")] = 3.0,
    seed: Annotated[int, typer.Option(help="Random seed (output is deterministic per seed).")] = 7,
    start: Annotated[Optional[str], typer.Option(help="First day, an ISO date (default 2026-11-01; the log must end by today).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Generate a synthetic event log with planted campaigns, hard negatives, labels and ground truth."""
    from graphs.synth import CAMPAIGN_TYPES, SynthConfig, generate

    s = settings()
    target = out or Home(s.home).root / "synth"
    mix = tuple(t.strip() for t in campaign_mix.split(",") if t.strip()) if campaign_mix else CAMPAIGN_TYPES
    cfg = SynthConfig(accounts=accounts, days=days, campaigns=campaigns, campaign_mix=mix, bots_per_campaign=bots_per_campaign,
                      events_per_account_day=events_per_account_day, camouflage=camouflage, lockstep_spread_s=lockstep_spread_s,
                      label_fraction=label_fraction, labeled_campaign_fraction=labeled_campaign_fraction,
                      label_noise=label_noise, label_delay_days=label_delay_days, seed=seed,
                      **({"start": start} if start else {}))
    with console.status(f"generating {accounts:,} accounts × {days} days"):
        summary = generate(target, cfg)
    summary["out"] = str(target)
    if as_json:
        emit_json(summary)
    else:
        console.print(f"[green]wrote[/] {summary['events']:,} events, {summary['accounts']:,} accounts "
                      f"({summary['abusive_accounts']:,} abusive in {campaigns} campaigns; "
                      f"{sum(summary['hard_negative_accounts'].values()):,} hard negatives) to {target} "
                      f"in {summary['seconds']:.1f} s")


def _ray_config(s: Settings) -> RayConfig:
    """The Ray a job starts or joins, as the settings' ``ray_*`` fields say."""
    from graphs.build import RayConfig

    return RayConfig(s.ray_address, s.ray_num_cpus, s.ray_object_store_mb)


def build_cmd(
    events: Annotated[Optional[list[str]], typer.Argument(
        help="Event files, folders, globs or object-store URIs (default: HOME/events, where logs land).")] = None,
    mapping: Annotated[Optional[Path], typer.Option(help="TOML mapping of the log's columns onto the canonical schema.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Keep events at or after this time (ISO).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Keep events before this time (ISO).")] = None,
    max_bad_fraction: Annotated[Optional[float], typer.Option(help="Fail past this share of bad rows.")] = None,
    accounts_table: Annotated[Optional[Path], typer.Option(help="Table of account_id, created_at (true account ages).")] = None,
    buckets: Annotated[Optional[int], typer.Option(help="Hash buckets; each task holds ~1/buckets of the events (memory bound).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Build a graph snapshot from event logs (a Ray job) and publish it."""
    from graphs.build import BuildParams, build_snapshot
    from graphs.mapping import EventMapping

    s = settings()
    if not events:
        landing = Home(s.home).events
        if not landing.is_dir():
            raise InputError(f"no event logs given, and {landing} (read when none are) does not exist; pass event files, "
                             "folders, globs or object-store URIs, or put the logs there")
        events = [str(landing)]
    params = BuildParams(
        events=events,
        mapping=EventMapping.from_toml(mapping) if mapping else EventMapping(),
        max_bad_fraction=s.max_bad_fraction if max_bad_fraction is None else max_bad_fraction,
        coaction_window_s=s.coaction_window_s,
        coaction_max_actors=s.coaction_max_actors_per_bucket,
        coaction_max_neighbors=s.coaction_max_neighbors,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
        accounts_table=str(accounts_table) if accounts_table else None,
        n_buckets=buckets or s.build_buckets,
    )
    with _progress() as bar:
        ids: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in ids:
                ids[stage] = bar.add_task(stage, total=total)
            bar.update(ids[stage], completed=done)

        manifest = build_snapshot(Home(s.ensure_home()), params, ray=_ray_config(s), progress=report)
    home = Home(s.home)
    home.snapshots.prune(s.keep_versions, home.in_use()["snapshots"])
    if as_json:
        emit_json(manifest)
        return
    c = manifest["counts"]
    console.print(f"[green]snapshot {manifest['version']}[/]: {c['events']:,} events, {c['accounts']:,} accounts, "
                  f"{c['bad_rows']:,} bad rows quarantined")
    table = Table("relation", "edges")
    for rel, n in sorted(c["relations"].items()):
        table.add_row(rel, f"{n:,}")
    console.print(table)
    if "accounts_table" in c:
        t = c["accounts_table"]
        console.print(f"accounts table: {t['rows']:,} rows, account age for {t['matched_accounts']:,} accounts"
                      + (f"; [yellow]{t['unreadable_created_at']:,} created_at values unreadable[/]" if t["unreadable_created_at"] else ""))
    if manifest["quarantine"]["reasons"]:
        console.print("quarantined: " + ", ".join(f"{k}={v}" for k, v in sorted(manifest["quarantine"]["reasons"].items()))
                      + f" → {manifest['quarantine']['path']}")


def _label_paths(home: Home, labels: list[Path] | None, snapshot: str | None) -> list[Path]:
    missing = [str(p) for p in labels or () if not Path(p).exists()]
    if missing:  # a mistyped path is not "no labels": training would go on with the log's labels alone
        raise InputError(f"--labels {', '.join(missing)}: no such file or folder")
    paths = list(labels) if labels else [home.labels]
    snap = home.snapshots.path(snapshot)
    if (snap / "log_labels.parquet").is_file():
        paths.append(snap / "log_labels.parquet")
    return paths


ModelFlag = Annotated[str, typer.Option("--model", help="hybrid (the GNN inside gradient-boosted trees; default) or gnn (the GNN alone).")]


LINK_HELP = ("Stack LINK (a logistic regression on which accounts an account links to) beside the cross-fitted "
             "members on graphs without coordination relations (imported static graphs), where out-of-fold scores "
             "give it weight (default on; README item 20).")


def train_cmd(
    labels: Annotated[Optional[list[Path]], typer.Option(help="Label files or folders (default: HOME/labels).")] = None,
    snapshot: Annotated[Optional[str], typer.Option(help="Snapshot version (default: current).")] = None,
    label_cutoff: Annotated[Optional[str], typer.Option(help="Use only labels known at this time (ISO).")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Maximum GNN epochs.")] = 150,
    model: ModelFlag = "hybrid",
    tree_views: Annotated[Optional[str], typer.Option(
        help="The hybrid's tree views, comma-separated, one booster each, averaged: 'all' or '+'-joined blocks "
             "(own, spectral, graph, group, labels, nbr_shares, answerers, spread, gnn). "
             "Default: own+spectral,own+spectral+graph+group+labels+nbr_shares+answerers,all.")] = None,
    cross_fit: Annotated[Optional[int], typer.Option(
        help="Members of the cross-fitted hybrid, each trained on all but one fold of the training labels and half "
             "the validation labels, averaged and calibrated on the other half with the members' out-of-fold scores "
             "(default 5; 1: one hybrid on a "
             "train/validation split; graphs over 200,000 accounts always get one).")] = None,
    link: Annotated[bool, typer.Option("--link/--no-link", help=LINK_HELP)] = True,
    as_json: JsonFlag = False,
) -> None:
    """Train the scorer (default: GNN inside gradient-boosted trees) on a snapshot and labels; publish models/vN."""
    from gnn.hybrid import view_blocks
    from gnn.labels import read_labels
    from gnn.train import MODELS, TrainConfig, train

    if model not in MODELS:
        raise ConfigError(f"--model must be one of {', '.join(MODELS)}, got {model!r}")
    _check_cross_fit(cross_fit)
    views = tuple(v.strip() for v in tree_views.split(",") if v.strip()) if tree_views else ()
    for view in views:
        view_blocks(view)  # a clear error before any work
    s = batch_settings()
    home = Home(s.home)
    paths = _label_paths(home, labels, snapshot)
    table = read_labels(paths, _parse_time(label_cutoff, "--label-cutoff"))
    if table.is_empty():
        raise InputError(f"no labels in {', '.join(str(p) for p in paths)}"
                         f"{' known by --label-cutoff' if label_cutoff else ''}: put label files (account_id, label) under "
                         f"{home.labels} or pass --labels FILE (a synthetic log's are its folder's labels.parquet)")
    with console.status(f"training ({model})"):
        cfg = TrainConfig(seed=s.seed, device=s.device, epochs=epochs, model=model, **({"tree_views": views} if views else {}),
                          **({"cross_fit": cross_fit} if cross_fit is not None else {}), link=link)
        manifest = train(home, table, cfg, snapshot)
    home.models.prune(s.keep_versions, home.in_use()["models"])
    if as_json:
        emit_json(manifest)
        return
    m = manifest["metrics"]
    console.print(f"[green]model {manifest['version']}[/] ({manifest['model']}) on snapshot {manifest['snapshot_version']} ({m['device']}): "
                  f"validation AUROC {m['validation']['auroc']:.3f}, AUPRC {m['validation']['auprc']:.3f} "
                  f"({m['validation']['n']} held-out labels"
                  + (f", scored by the mean of {m['members']} members, none of which saw them" if m.get("members", 1) > 1 else "")
                  + f"), best GNN epoch {m['best_epoch']}")
    if m.get("labels_not_in_snapshot"):
        console.print(f"[yellow]{m['labels_not_in_snapshot']:,} label(s) name accounts not in snapshot "
                      f"{manifest['snapshot_version']}; they were not used[/]")


def score_cmd(
    model: Annotated[Optional[str], typer.Option(help="Model version (default: current); hybrid or GNN as trained.")] = None,
    snapshot: Annotated[Optional[str], typer.Option(help="Snapshot version (default: current).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Score every account of a snapshot with a trained model (hybrid or GNN); publish scores/vN."""
    from gnn.score import score

    s = batch_settings()
    home = Home(s.home)
    with console.status("scoring"):
        manifest = score(home, model, snapshot, s.device)
    home.scores.prune(s.keep_versions)
    if as_json:
        emit_json(manifest)
        return
    levels = ", ".join(f"{k} {v:,}" for k, v in manifest["levels"].items())
    console.print(f"[green]scores {manifest['version']}[/]: {manifest['count']:,} accounts ({levels}); "
                  f"{manifest['rings']} rings; model {manifest['model_version']}, snapshot {manifest['snapshot_version']}")
    for warning in manifest.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(str(warning))}")


def explain_cmd(
    account_ids: Annotated[list[str], typer.Argument(metavar="ACCOUNT...", help="Accounts to explain, at any risk level.")],
    scores: Annotated[Optional[str], typer.Option(help="Score version (default: current); its model and snapshot are reloaded.")] = None,
    neighbors: Annotated[int, typer.Option(help="Top neighbours per account.")] = 5,
    features: Annotated[int, typer.Option(help="Top attributed columns per account.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Explain published scores on demand: reasons, attributions and top neighbours of any account.

    Scoring stores explanations for MEDIUM and above only; this recomputes them for any account
    from the score set's own model and snapshot (TreeSHAP for the hybrid, gradient x input for
    the GNN alone).
    """
    from gnn.explain import explain_accounts

    s = batch_settings()
    with console.status("loading the model and snapshot behind the score set"):
        result = explain_accounts(Home(s.home), account_ids, scores, s.device, neighbors, features)
    if as_json:
        emit_json(result)
        return
    console.print(f"score set {result['score_set']} ({result['model']} model {result['model_version']}, "
                  f"snapshot {result['snapshot_version']})")
    for acc in result["accounts"]:
        ring = f", ring {acc['ring_id']}" if acc["ring_id"] else ""
        console.print(f"\n[bold]{escape(acc['account_id'])}[/]: risk {acc['risk']:.4f} ({acc['level']}{ring})")
        for reason in acc["reasons"]:
            console.print(f"  - {escape(str(reason))}")
        table = Table("feature", "value", "contribution (log-odds)", title="what moved the score")
        for c in acc["contributions"]:
            table.add_row(escape(str(c["feature"])), "none" if c["value"] is None else f"{c['value']:.4g}", f"{c['contribution']:+.4f}")
        console.print(table)
        nbrs = Table("neighbour", "relation", "weight", title="top neighbours")
        for nb in acc["top_neighbors"]:
            nbrs.add_row(escape(str(nb["account_id"])), escape(str(nb["relation"])), f"{nb['weight']:.3f}")
        console.print(nbrs)


def _emit_result(result: dict[str, Any], as_json: str | bool | None) -> None:
    if isinstance(as_json, str) and as_json != "-":  # an empty name was refused by _check_output
        try:
            write_json(Path(as_json), result)
        except OSError as exc:
            raise InputError(f"cannot write --json {as_json}: {exc}") from exc
        console.print(f"[green]wrote[/] {as_json}")
    elif as_json == "-" or as_json is True:
        emit_json(result)
    else:
        console.print_json(dumps_strict(result))


def _check_output(json_out: str | bool | None, report: Path | None) -> None:
    """Refuse output paths that cannot be written, before the work whose result they hold."""
    if isinstance(json_out, str) and not json_out.strip():
        raise ConfigError("--json needs a file name (or '-' for stdout); an empty one would write nothing")
    if isinstance(json_out, str) and json_out != "-":
        if Path(json_out).is_dir():
            raise ConfigError(f"--json {json_out} is a folder; give a file name (or '-' for stdout)")
        _check_parent("--json", Path(json_out).parent)
    if report is not None:
        if report.exists() and not report.is_dir():
            raise ConfigError(f"--report {report} is a file; give a folder for the HTML report")
        _check_parent("--report", report)


def _check_parent(flag: str, folder: Path) -> None:
    """Refuse ``folder`` when the nearest part of it that exists is not a folder this process can write in."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{flag}: {existing} is a file, so {folder} cannot be made; give a path under a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag}: cannot write in {existing}; give a path under a folder you can write to")


def _refuse_other_mode(given: dict[str, bool], why: str) -> None:
    """Refuse the options of ``evaluate``'s other mode that were given (``flag → given``)."""
    ignored = [flag for flag, on in given.items() if on]
    if ignored:
        raise ConfigError(f"{', '.join(ignored)} {why}")


def _check_cross_fit(cross_fit: int | None) -> None:
    if cross_fit is not None and cross_fit < 1:
        raise ConfigError(f"--cross-fit must be 1 (one hybrid) or more (members), got {cross_fit}")


def _mean_min(summary: dict[str, Any]) -> str:
    """``mean (min)`` of a calibration figure; ``–`` where no seed had an account at the level."""
    return "–" if summary["mean"] is None else f"{summary['mean']:.3f} ({summary['min']:.3f})"


def _mean_precision_at_medium(seeds: list[dict[str, Any]]) -> str:
    """Mean precision at MEDIUM over ``seeds`` (those with one), ``–`` where none has it."""
    values = [s["precision_at_MEDIUM"] for s in seeds if s.get("precision_at_MEDIUM") is not None]
    return f"{sum(values) / len(values):.3f}" if values else "–"


def _evaluate_dataset(dataset: str, seeds: int, json_out: str | None, report: Path | None, models: str | None,
                      first_seed: int = 0, cross_fit: int | None = None, same_platform: bool = False,
                      link: bool = True) -> None:
    from gnn.benchmark import EVAL_CONFIG, MODELS, evaluate_dataset, write_report

    chosen = MODELS if models is None else tuple(m.strip() for m in models.split(",") if m.strip())
    unknown = [m for m in chosen if m not in MODELS]
    if unknown or not chosen:
        raise ConfigError(f"--models: {f'unknown {unknown}' if unknown else 'none given'}; valid: {', '.join(MODELS)} "
                          "(comma-separated; leave the option out for all)")
    _check_cross_fit(cross_fit)
    if seeds < 1:
        raise ConfigError(f"--seeds must be 1 or more, got {seeds}")
    _check_output(json_out, report)  # before hours of work, not after
    s = batch_settings()
    cfg = replace(EVAL_CONFIG, device=s.device, link=link, **({} if cross_fit is None else {"cross_fit": cross_fit}))
    result = evaluate_dataset(dataset, seeds=seeds, models=chosen, cfg=cfg, log=lambda msg: console.print(f"[dim]{msg}[/]"),
                              first_seed=first_seed, datasets=s.datasets, same_platform=same_platform,
                              ray_config=_ray_config(s))
    table = Table("model", "AUROC", "AUPRC", "recall@1%FPR", "precision@100", title=f"{result['dataset']} — {result['protocol']}, {result['seeds']} seed(s)")
    for name, m in result["models"].items():
        table.add_row(name, *(f"{m[k]['mean']:.4f} ± {m[k]['std']:.4f}" for k in ("auroc", "auprc", "recall_at_1pct_fpr", "precision_at_100")))
    console.print(table)
    cal = result.get("calibration")
    if cal:
        levels = ", ".join(f"{lv} {_mean_min(cal[f'precision_at_{lv}'])}" for lv in ("CRITICAL", "HIGH", "MEDIUM"))
        console.print(f"calibrated risk of the shipped scorer on the test accounts: Brier {cal['brier']['mean']:.4f}, "
                      f"ECE {cal['ece']['mean']:.4f}; precision at or above each level, mean (lowest seed): {levels}")
    for floor, r in result.get("rings", {}).items():
        console.print(f"rings at {floor}: {r['found_share']:.0%} of campaigns found as rings, account precision "
                      f"{r['account_precision']:.3f} ({r['members']:.0f} members, mean over seeds)")
    sep = result.get("ring_kind_separation")
    if sep:
        ranks = ", ".join(f"{c} {'–' if v is None else f'{v:.2f}'}" for c, v in sep["auroc_campaign_vs_benign"].items())
        console.print(f"rings at {sep['floor']}: {sep['campaign_rings']} campaign rings, {sep['benign_rings']} mostly benign; "
                      f"AUROC of each column, campaign vs benign: {ranks}")
        split = result.get("split_campaigns")
        if split:
            console.print(f"rings at {sep['floor']}: {split['split']} campaign(s) in several rings, "
                          f"{split['whole_through_related']} of them whole through their related rings (all seeds)")
    by_labels = result.get("campaigns_by_training_labels")
    if by_labels:
        console.print("campaigns by whether the training labels showed their type (all seeds): " + "; ".join(
            f"{name.replace('_', ' ')} {c['found']} of {c['campaigns']} found, missed {c['missed_by_scorer']} by the scorer "
            f"and {c['missed_by_rings']} by the rings" for name, c in by_labels.items()))
    drift = result.get("drift")
    if drift:
        warned = [d for d in drift if d["warned"]]
        console.print(f"drift warnings `ringwatch score` would give on the held-out platforms: {len(warned)} of {len(drift)} "
                      f"seeds (precision at MEDIUM: warned {_mean_precision_at_medium(warned)}, "
                      f"not warned {_mean_precision_at_medium([d for d in drift if not d['warned']])})")
    try:
        write_report(result, Path(json_out) if json_out not in (None, "-") else None, report)
    except OSError as exc:
        raise InputError(f"cannot write the evaluation's output: {exc}") from exc
    if json_out == "-":
        emit_json(result)
    if report:
        console.print(f"[green]report[/] {escape(str(report / 'index.html'))}")


def evaluate_cmd(
    truth: Annotated[Optional[Path], typer.Option(help="Ground-truth or held-out label table (account_id, label or is_abusive) for a score set.")] = None,
    scores: Annotated[Optional[str], typer.Option(help="Score version (default: current).")] = None,
    exclude_labels: Annotated[Optional[list[Path]], typer.Option(help="Label files left out of the evaluation besides every label the model trained on (default: HOME/labels).")] = None,
    dataset: Annotated[Optional[str], typer.Option(help="Benchmark instead: amazon, yelpchi, tolokers, reddit, wikipedia, synthetic, or a graph file (.npz/.mat/.zip).")] = None,
    seeds: Annotated[Optional[int], typer.Option(help="Seeds (random splits) for --dataset (default 5); Tolokers uses its given splits.")] = None,
    report: Annotated[Optional[Path], typer.Option(help="Folder for the HTML report with ROC/PR/histogram/calibration PNGs (--dataset).")] = None,
    models: Annotated[Optional[str], typer.Option(help="Comma-separated models for --dataset (default: all baselines and ours).")] = None,
    first_seed: Annotated[int, typer.Option(help="--dataset synthetic: first seed pair (fresh platforms: e.g. 10 after tuning on 0-9).")] = 0,
    cross_fit: Annotated[Optional[int], typer.Option(help="--dataset: members of the cross-fitted hybrid (default 5, as `ringwatch train`; 1: one hybrid).")] = None,
    same_platform: Annotated[bool, typer.Option(help="--dataset synthetic: train on the scored platform's own labels, as in production (default: on another platform's).")] = False,
    link: Annotated[bool, typer.Option("--link/--no-link", help=LINK_HELP)] = True,
    as_json: Annotated[Optional[str], typer.Option("--json", help="Write the result as JSON to this file ('-' for stdout).")] = None,
) -> None:
    """Evaluate: a score set against held-out truth, or (--dataset) every model on a labelled benchmark.

    With --truth, accounts whose labels trained the model are left out, so no metric is
    computed on training data. With --dataset, baselines (XGB own, XGB-Graph, + neighbour
    labels, GNN) and ours (hybrid) run on the same splits; metrics are mean ± std over seeds.
    """
    if dataset:
        _refuse_other_mode({"--truth": truth is not None, "--scores": scores is not None,
                            "--exclude-labels": bool(exclude_labels)},
                           "cannot be combined with --dataset, which benchmarks every model on a dataset "
                           "(--truth, --scores and --exclude-labels evaluate a published score set)")
        _evaluate_dataset(dataset, 5 if seeds is None else seeds, as_json, report, models, first_seed, cross_fit,
                          same_platform, link)
        return
    if truth is None:
        raise ConfigError("give --truth FILE (evaluate a score set) or --dataset NAME|PATH (benchmark)")
    from gnn.evaluate import evaluate_scores, read_truth
    from gnn.labels import read_labels
    from gnn.train import labels_used

    _refuse_other_mode({"--seeds": seeds is not None, "--report": report is not None, "--models": models is not None,
                        "--first-seed": first_seed != 0,
                        "--cross-fit": cross_fit is not None, "--same-platform": same_platform, "--no-link": not link},
                       "cannot be combined with --truth, which evaluates one published score set (--seeds, --report, "
                       "--models, --first-seed, --cross-fit, --same-platform and --no-link belong to --dataset benchmarks)")
    missing = [str(p) for p in exclude_labels or [] if not p.exists()]
    if missing:  # a typo would leave those labelled accounts in the test rows
        raise InputError(f"--exclude-labels: no such file or folder: {', '.join(missing)}")
    _check_output(as_json, None)
    s = settings()
    home = Home(s.home)
    scores_dir = home.scores.path(scores)
    exclude = set(read_labels(exclude_labels or [home.labels])["account_id"].to_list())
    model_version = home.scores.manifest(scores_dir.name).get("model_version")
    if model_version:  # and every label the model saw, wherever it came from (a labelled log too)
        try:
            exclude |= labels_used(home, model_version)
        except NotFoundError:
            raise NotFoundError(f"scores {scores_dir.name} were made by model {model_version}, which is no longer published, "
                                "so the labels it trained on cannot be left out; evaluate a score set of a published model") from None
    result = evaluate_scores(pl.read_parquet(scores_dir / "scores.parquet"), read_truth(truth), exclude=exclude)
    _emit_result(result, as_json)


def label_cmd(
    account: Annotated[str, typer.Argument(help="Account id.")],
    abusive: Annotated[bool, typer.Option("--abusive/--benign", help="The verdict.")],
    note: Annotated[str, typer.Option(help="Why; stored with the verdict.")] = "",
    source: Annotated[str, typer.Option(help="Who decided.")] = "investigator",
    as_json: JsonFlag = False,
) -> None:
    """Record a verdict: appended to HOME/labels (used by the next training) and set in Neo4j if running."""
    from gnn.verdicts import record_verdict

    s = settings()
    row = record_verdict(Home(s.ensure_home()), account, int(abusive), source, note)
    neo4j_status = _verdict_to_neo4j(account, int(abusive), note, source)
    row["neo4j"] = neo4j_status
    if as_json:
        emit_json(row)
    else:
        console.print(f"[green]recorded[/] {escape(account)} → {'abusive' if abusive else 'benign'} ({neo4j_status})")


def _verdict_to_neo4j(account: str, label: int, note: str, source: str) -> str:
    """Set the verdict in Neo4j; the verdict is recorded already, so a failure here is reported, not raised."""
    try:
        from services import neo4j_export, neo4j_server
    except ImportError:
        return "neo4j support not installed"
    try:
        driver = neo4j_server.connect(settings())
    except Exception as exc:  # noqa: BLE001 - Neo4j being down must not lose the verdict
        return f"neo4j not updated: {exc}"
    try:
        neo4j_export.set_verdict(driver, account, label, note, source=source)
        return "neo4j updated"
    except RingwatchError as exc:  # not exported yet, or Neo4j failed: the labels table has it all the same
        return f"neo4j not updated: {exc}"
    finally:
        driver.close()


def register(app: typer.Typer) -> None:
    """Add the stage verbs to ``app``."""
    app.command("synth")(synth_cmd)
    app.command("build")(build_cmd)
    app.command("train")(train_cmd)
    app.command("score")(score_cmd)
    app.command("explain")(explain_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.command("label")(label_cmd)
