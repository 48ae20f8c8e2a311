"""The graph build job: event files → a published, versioned snapshot, on Ray.

Stages (each a set of coarse Polars tasks; Ray only schedules them and passes file paths):

1. ``prepare``   one task per input file: map → validate → quarantine → split by hash of
                 actor and by hash of target.
2. ``aggregate`` one task per bucket: features, direct edges and infrastructure usage of
                 the bucket's actors; co-action (lockstep) pairs on the bucket's targets.
3. ``co-action`` one task per part: sum co-action pair counts over buckets (pairs split by
                 hash of src), keep repeated pairs.
4. ``assemble``  one task: cross-bucket joins, snapshot tables into a staging directory.

The snapshot is published by :meth:`ringwatch.versions.VersionedDir.publish`: only a complete
build becomes ``vN`` and ``CURRENT``. Ray is started locally (:class:`RayConfig`'s ``num_cpus``,
from settings) unless its ``address`` names a cluster; on a cluster the home directory must be on
storage every node can reach.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from graphs import tasks
from graphs.assemble import AssembleParams, assemble
from graphs.mapping import EventMapping
from graphs.readers import discover
from graphs.validate import FUTURE_TOLERANCE_S
from ringwatch import __version__
from ringwatch.errors import BadRowsError, InputError, RingwatchError
from ringwatch.types import SNAPSHOT_FORMAT
from ringwatch.versions import Home, locked

PREPARE_FORMAT = 3
"""Bumped when the layout or meaning of a file's cached prepared output (validated rows split into
target buckets) changes; it keys those files only, so a change to the aggregate stage alone leaves
them valid and an upgraded build does not prepare every file again."""
AGGREGATE_FORMAT = 5
"""Bumped when the layout or meaning of a bucket's cached aggregate (features, relations, pairs)
changes."""
_CACHE_LOCK = ".lock"
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)`` callback."""


@dataclass(frozen=True)
class BuildParams:
    """What a build reads and how.

    Args:
        events: Event files, directories, globs or object-store URIs.
        mapping: Column mapping onto the canonical schema.
        max_bad_fraction: Fail past this share of bad rows.
        coaction_window_s: Lockstep window Δ in seconds.
        coaction_max_actors: Cap on actors per (target, window).
        coaction_max_neighbors: In crowded windows, time neighbours each actor pairs with.
        n_buckets: Hash buckets for actors and targets; each aggregation task holds about
            1/n_buckets of the events, so memory is bounded by partitioning. Keep it fixed
            across incremental builds (changing it invalidates cached work).
        since: Keep events at or after this time.
        until: Keep events before this time.
        assemble: Cross-bucket thresholds.
        accounts_table: Optional ``account_id, created_at`` table (Parquet or CSV) giving
            true account ages.
    """

    events: list[str]
    mapping: EventMapping = field(default_factory=EventMapping)
    max_bad_fraction: float = 0.01
    coaction_window_s: int = 300
    coaction_max_actors: int = 200
    coaction_max_neighbors: int = 32
    n_buckets: int = 16
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    assemble: AssembleParams = field(default_factory=AssembleParams)
    accounts_table: str | None = None


def _code_version() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


@dataclass(frozen=True)
class RayConfig:
    """Where a job's Ray runs (the settings' ``ray_*`` fields): a cluster's address, else a local
    Ray of ``num_cpus`` CPUs and an object store of ``object_store_mb``."""

    address: str | None = None
    num_cpus: int = 2
    object_store_mb: int = 512


def init_ray(config: RayConfig) -> bool:
    """Start or join Ray; return True when this call started it (and should shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    if config.address:
        ray.init(address=config.address, log_to_driver=False)
    else:
        ray.init(num_cpus=config.num_cpus, object_store_memory=config.object_store_mb * 1024 * 1024,
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    return True


def _run_stage(name: str, refs: list[Any], progress: Progress | None, timings: dict[str, float] | None = None) -> list[Any]:
    import ray

    t0 = time.perf_counter()
    results: dict[Any, Any] = {}
    pending = list(refs)
    if progress:
        progress(name, 0, len(refs))
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            try:
                results[ref] = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # a task's own error, said in one line, not Ray's traceback
                if isinstance(exc.cause, RingwatchError):
                    raise exc.cause from None
                raise
        if progress:
            progress(name, len(results), len(refs))
    if timings is not None:
        timings[name] = round(time.perf_counter() - t0, 3)
    return [results[r] for r in refs]


def _file_key(path: str, params: BuildParams, n_buckets: int) -> str:
    """Key of a file's prepared output: its identity (size, mtime) and everything that shapes it."""
    try:
        st = os.stat(path)
        ident: list[Any] = [st.st_size, st.st_mtime_ns]
    except OSError:  # object-store URI: identified by its path
        ident = ["remote"]
    doc = {"path": path, "ident": ident, "mapping": asdict(params.mapping), "buckets": n_buckets,
           "since": params.since, "until": params.until, "prepare_format": PREPARE_FORMAT}
    return hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _bucket_key(file_keys: list[str], bucket: int, params: BuildParams) -> str:
    doc = {"files": sorted(file_keys), "bucket": bucket, "window": params.coaction_window_s,
           "cap": params.coaction_max_actors,
           "neighbors": params.coaction_max_neighbors, "format": AGGREGATE_FORMAT}
    return hashlib.sha1(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


def build_snapshot(home: Home, params: BuildParams, *, ray: RayConfig = RayConfig(),
                   progress: Progress | None = None) -> dict[str, Any]:
    """Run the build and publish a snapshot; return its manifest.

    Work is cached under ``HOME/cache/build`` by a key of its inputs: a re-run after a
    failure skips finished files and buckets, and a build over yesterday's files plus a new
    day prepares only the new day. A successful build drops cache entries it did not use.

    Args:
        home: Storage layout.
        params: What to build.
        ray: The Ray to start or join (a local one of 2 CPUs by default).
        progress: Optional progress callback.

    Returns:
        The published manifest (``version``, counts, quarantine reasons, ...).

    Raises:
        InputError: No event files, or no valid events.
        BadRowsError: Bad rows above ``max_bad_fraction``; nothing is published.
    """
    files = discover(params.events)
    if params.accounts_table and "://" not in params.accounts_table and not Path(params.accounts_table).is_file():
        raise InputError(f"accounts table {params.accounts_table} does not exist")
    n_buckets = params.n_buckets
    now = dt.datetime.now(dt.timezone.utc)
    cache = home.root / "cache" / "build"
    file_keys = [_judged_now(cache, _file_key(f, params, n_buckets), now) for f in files]
    prepared_dirs = [str(cache / "prepared" / k) for k in file_keys]
    bucket_dirs = [str(cache / "buckets" / _bucket_key(file_keys, b, params)) for b in range(n_buckets)]
    t_start = time.perf_counter()
    cache.mkdir(parents=True, exist_ok=True)
    with locked(cache / _CACHE_LOCK, fcntl.LOCK_SH):  # held by every running build: no prune removes its work
        manifest = _build(home, params, _Plan(files, now, cache, prepared_dirs, bucket_dirs), ray, progress, t_start)
    with locked(cache / _CACHE_LOCK, fcntl.LOCK_EX | fcntl.LOCK_NB) as alone:
        if alone:  # else another build is running on this cache: a later build prunes
            _prune_cache(cache, set(prepared_dirs) | set(bucket_dirs))
    return manifest


@dataclass(frozen=True)
class _Plan:
    """Where one build's work goes: its files, its clock, and the cache directories keyed by them."""

    files: list[str]
    now: dt.datetime
    cache: Path
    prepared_dirs: list[str]
    bucket_dirs: list[str]


def _build(home: Home, params: BuildParams, plan: _Plan, ray_config: RayConfig, progress: Progress | None,
           t_start: float) -> dict[str, Any]:
    import ray

    files, now, cache, prepared_dirs, bucket_dirs = plan.files, plan.now, plan.cache, plan.prepared_dirs, plan.bucket_dirs
    n_buckets = params.n_buckets
    since = params.since.isoformat() if params.since else None
    until = params.until.isoformat() if params.until else None
    started = init_ray(ray_config)
    timings: dict[str, float] = {"ray_init": round(time.perf_counter() - t_start, 3)}
    try:
        opts = {"num_cpus": 1, "max_retries": 2}
        prep = ray.remote(tasks.prepare_file).options(**opts)
        prepared = _run_stage("prepare", [prep.remote(f, params.mapping, d, n_buckets, now.isoformat(), since, until)
                                          for f, d in zip(files, prepared_dirs)], progress, timings)
        agg = ray.remote(tasks.bucket_aggregates).options(**opts)
        bucket_results = _run_stage("aggregate", [agg.remote(prepared_dirs, b, d, params.coaction_window_s, params.coaction_max_actors, n_buckets,
                                                             params.coaction_max_neighbors)
                                                  for b, d in enumerate(bucket_dirs)], progress, timings)

        rows = sum(p["rows"] for p in prepared)
        good = sum(p["good"] for p in prepared)
        reasons: dict[str, int] = {}
        for p in prepared:
            for r, n in p["bad"].items():
                reasons[r] = reasons.get(r, 0) + n
        dups = sum(r["duplicates"] for r in bucket_results)
        if dups:
            reasons["duplicate_event_id"] = reasons.get("duplicate_event_id", 0) + dups
            good -= dups
        n_bad = sum(reasons.values())
        quarantine = _keep_quarantine(home, prepared_dirs + bucket_dirs, now)
        if rows == 0 or good == 0:
            raise InputError(f"no valid events in {', '.join(params.events)} ({rows} rows read, {n_bad} bad)"
                             + (f"; quarantined rows are in {quarantine}" if quarantine else ""))
        if since is None and until is None:  # every row read is this build's
            fraction = n_bad / rows
        else:  # bad rows dated in the window against its dated rows, plus the undated against every row read
            undated = sum(p["undated_bad"] for p in prepared)
            in_window = rows - sum(p["out_of_window"] for p in prepared) - undated
            fraction = (n_bad - undated) / max(in_window, 1) + undated / rows
        if fraction > params.max_bad_fraction:
            raise BadRowsError(fraction, params.max_bad_fraction, reasons)

        min_ts = min(p["min_ts"] for p in prepared if p["min_ts"] is not None)
        max_ts = max(p["max_ts"] for p in prepared if p["max_ts"] is not None)
        manifest: dict[str, Any] = {
            "kind": "snapshot",
            "format": SNAPSHOT_FORMAT,
            "code_version": _code_version(),
            "built_at": now.isoformat(),
            "sources": files,
            "event_range": {"min_ts": min_ts, "max_ts": max_ts},
            "window": {"since": since, "until": until},
            "params": {k: v for k, v in asdict(params).items() if k not in ("events", "mapping", "since", "until")},
            "counts": {"rows": rows, "events": good, "bad_rows": n_bad,
                       "out_of_window": sum(p["out_of_window"] for p in prepared)},
            "quarantine": {"reasons": reasons, "path": str(quarantine) if quarantine else None},
            "timings_s": timings,
            "reused": {"files": sum(bool(p["cached"]) for p in prepared), "buckets": sum(bool(b["cached"]) for b in bucket_results)},
        }
        reduce_dir = cache / "reduce" / uuid.uuid4().hex  # this build's own: a twin over the same inputs removes its own
        red = ray.remote(tasks.coaction_reduce).options(**opts)
        reduced = [str(reduce_dir / f"p={k}.parquet") for k in range(n_buckets)]
        _run_stage("co-action", [red.remote(bucket_dirs, k, reduced[k], params.assemble.coaction_min_count)
                                 for k in range(n_buckets)], progress, timings)
        with home.snapshots.publish(manifest) as staging:
            asm = ray.remote(assemble).options(num_cpus=1)
            counts = _run_stage("assemble", [asm.remote(bucket_dirs, str(staging), params.assemble, max_ts, params.accounts_table,
                                                        [r for r in reduced if Path(r).is_file()])], progress, timings)[0]
            manifest["counts"].update(accounts=counts["accounts"], relations=counts["relations"])
            if "accounts_table" in counts:  # rows, matched accounts, unreadable created_at
                manifest["counts"]["accounts_table"] = counts["accounts_table"]
            _write_log_labels(prepared_dirs, staging, params.mapping.label_source)
        shutil.rmtree(reduce_dir, ignore_errors=True)
        timings["total"] = round(time.perf_counter() - t_start, 3)
        return manifest
    finally:
        if started:
            ray.shutdown()


def _judged_now(cache: Path, key: str, now: dt.datetime) -> str:
    """The key of a file's preparation as this build's clock would judge it.

    ``key`` while no row the cached preparation quarantined as in the future has come due (a
    corrupt year-2099 row never does); ``key-due`` once all have, prepared once more and then
    reused; a key of this clock while some have and some have not (judged afresh each build)."""
    if tasks.done(cache / "prepared" / f"{key}-due") is not None:  # every future row came due and was judged so
        return f"{key}-due"
    summary = tasks.done(cache / "prepared" / key)
    if summary is None or not summary.get("future_range"):
        return key
    first, last = (dt.datetime.fromisoformat(t) for t in summary["future_range"])
    horizon = now + dt.timedelta(seconds=FUTURE_TOLERANCE_S)  # a row is in the future while dated past it
    if first > horizon:
        return key
    if last <= horizon:
        return f"{key}-due"
    return f"{key}-{hashlib.sha1(now.isoformat().encode()).hexdigest()[:8]}"


def _prune_cache(cache: Path, keep: set[str]) -> None:
    """Drop cached work this build did not use (changed files, stale bucket sets, crashed attempts)."""
    for kind in ("prepared", "buckets", "reduce"):
        for entry in (cache / kind).glob("*") if (cache / kind).is_dir() else []:
            if str(entry) not in keep:
                shutil.rmtree(entry, ignore_errors=True)


def _keep_quarantine(home: Home, dirs: list[str], now: dt.datetime) -> Path | None:
    """Collect this run's quarantined rows into ``HOME/quarantine/<time>.parquet``."""
    parts = [p for d in dirs if (p := Path(d) / "quarantine.parquet").is_file()]
    if not parts:
        return None
    home.quarantine.mkdir(parents=True, exist_ok=True)
    target = home.quarantine / f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}.parquet"
    # diagonal: a cached prepared file from before the malformed-line columns lacks them
    pl.concat([pl.read_parquet(p) for p in parts], how="diagonal_relaxed").write_parquet(target)
    return target


def _write_log_labels(prepared: list[str], staging: Path, source: str) -> None:
    """Labels carried inside the event log become ``log_labels.parquet`` of the snapshot."""
    parts = [p for d in prepared if (p := Path(d) / "labels.parquet").is_file()]
    if not parts:
        return
    rows = pl.read_parquet(parts).drop_nulls("label")
    labels = rows.group_by("actor_id").agg(
        pl.col("label").max(),
        pl.when(pl.col("label") == pl.col("label").max()).then(pl.col("ts")).otherwise(None).min().alias("ts"),
    ).rename({"actor_id": "account_id"}).with_columns(pl.lit(source).alias("source"))
    labels.select("account_id", "label", "source", "ts").sort("account_id").write_parquet(staging / "log_labels.parquet")
