#!/usr/bin/env python
"""Benchmark the ring stage on held-out synthetic platforms, with the scorer's fits cached.

Fitting the shipped scorer for one seed pair takes about two minutes on 2 cores; finding its
rings a fraction of a second. So the first run of a seed scores its held-out platform exactly as
``ringwatch evaluate --dataset synthetic --models hybrid`` does (``gnn.bench_synthetic.run_seed``)
and caches what the ring stage reads (calibrated risk, ring edges, known-abusive accounts,
truth, the labelled accounts left out of every metric); later runs redo only the rings, so ring
settings can be compared over dozens of seeds in seconds. Per seed and pooled over the seeds, at
the MEDIUM floor: campaigns found as rings, ring members and their precision (pooled over
members), benign members, and campaigns split over several rings (and how many of those are
whole through their related rings); the HIGH floor's found / precision beside.

    .venv/bin/python scripts/bench_rings.py --seeds 0-9            # the README's product seeds
    .venv/bin/python scripts/bench_rings.py --seeds 0-49 --set split_density=None
    .venv/bin/python scripts/bench_rings.py --seeds 30-39 --set min_related_links=1 --set peer_similarity=0.8
    .venv/bin/python scripts/bench_rings.py --seeds 90-99 --misses   # each campaign missed, and by whom

``--misses`` also says, per campaign, whether the training platform's labels showed a bot of its
type (its log is generated again for that, about a second per seed), and pools the campaigns by it.

The cache (``--cache``, default ``HOME/cache/bench_rings``) holds one pickle per seed, written by
this script only, named by the scorer's settings (``EVAL_CONFIG``); delete it after a change to
the scorer's code, the generator or the build.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import inspect
import pickle
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl  # noqa: E402

from gnn.bench_synthetic import RingInputs, outcome_summary, ring_report, run_seed, training_label_types  # noqa: E402
from gnn.benchmark import EVAL_CONFIG  # noqa: E402
from gnn.rings import find_rings  # noqa: E402
from ringwatch.settings import Settings  # noqa: E402


def seed_range(spec: str) -> list[int]:
    """``"0-9"`` or ``"3,5,40-44"`` → the seeds."""
    seeds: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def ring_setting(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` (a Python literal: ``0.05``, ``None``, ``2``) → a keyword of ``find_rings``."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=VALUE, e.g. split_density=0.05")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"{text!r}: the value must be a number, None, True or False") from None


def cache_path(cache: Path, seed: int, accounts: int, days: int) -> Path:
    """One seed's cache file; a change of the scorer's settings (``EVAL_CONFIG``) gives another."""
    config = hashlib.sha256(repr(EVAL_CONFIG).encode()).hexdigest()[:10]
    return cache / f"seed{seed}-{accounts}x{days}-{config}.pkl"


def inputs_of(seed: int, cache: Path, accounts: int, days: int) -> RingInputs:
    """The seed's cached ring inputs, fitting and caching them first when absent."""
    path = cache_path(cache, seed, accounts, days)
    if path.is_file():
        with path.open("rb") as f:
            return pickle.load(f)  # written by this script, below
    t0 = time.perf_counter()
    _, extra = run_seed(seed, EVAL_CONFIG, ("hybrid",), accounts, days)
    inputs = extra["ring_inputs"]
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(inputs, f)
    tmp.replace(path)  # a killed fit leaves no half-written cache
    print(f"seed {seed}: scorer fitted and cached in {time.perf_counter() - t0:.0f} s", flush=True)
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=seed_range, default=seed_range("0-9"), help="e.g. 0-9 or 0,3,30-39")
    parser.add_argument("--set", type=ring_setting, action="append", default=[], metavar="NAME=VALUE",
                        help="a find_rings keyword to change (repeatable)")
    parser.add_argument("--misses", action="store_true",
                        help="print each campaign not found, whose miss it is and whether the training labels showed its type")
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default HOME/cache/bench_rings)")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    cache = args.cache or Settings().home / "cache" / "bench_rings"
    settings = dict(args.set)
    tunable = set(inspect.signature(find_rings).parameters) - {"account_ids", "risk", "edges", "risk_floor", "known"}
    if unknown := sorted(set(settings) - tunable):
        parser.error(f"--set {', '.join(unknown)}: not a find_rings setting; valid: {', '.join(sorted(tunable))}")
    import ray

    from graphs.build import RayConfig, init_ray

    # the builds of the platforms still to fit: one local Ray for all of them
    started = any(not cache_path(cache, s, args.accounts, args.days).is_file() for s in args.seeds) and init_ray(RayConfig())
    total = {"found": 0, "campaigns": 0, "members": 0, "benign": 0, "split": 0, "whole": 0, "high_found": 0,
             "high_members": 0, "high_benign": 0, "seconds": 0.0}
    outcomes: list[pl.DataFrame] = []
    try:
        for seed in args.seeds:
            inputs = inputs_of(seed, cache, args.accounts, args.days)
            trained = training_label_types(seed, args.accounts, args.days) if args.misses else None
            t0 = time.perf_counter()
            report = ring_report(inputs, trained, **settings)
            total["seconds"] += time.perf_counter() - t0
            medium, high, split = report["rings"]["MEDIUM"], report["rings"]["HIGH"], report["split_campaigns"]
            benign, high_benign = medium["benign_members"], high["benign_members"]
            for key, value in (("found", medium["campaigns_found"]), ("campaigns", medium["campaigns"]),
                               ("members", medium["members"]), ("benign", benign), ("split", split["split"]),
                               ("whole", split["whole_through_related"]), ("high_found", high["campaigns_found"]),
                               ("high_members", high["members"]), ("high_benign", high_benign)):
                total[key] += value
            print(f"seed {seed}: MEDIUM {medium['campaigns_found']}/{medium['campaigns']} found, {medium['members']} members, "
                  f"precision {medium['account_precision']:.3f} ({benign} benign), {split['split']} split "
                  f"({split['whole_through_related']} whole through related rings); HIGH {high['campaigns_found']} found, "
                  f"precision {high['account_precision']:.3f}", flush=True)
            if args.misses:
                outcomes.append(report["campaigns"])
                for c in report["campaigns"].filter(~pl.col("found")).iter_rows(named=True):
                    print(f"  campaign {c['campaign_id']} ({c['campaign_type']}, {c['accounts']} unlabelled accounts), "
                          f"missed by the {c['cause']}: {c['at_floor']:.0%} at MEDIUM, {c['in_reach']:.0%} within the rings' reach, "
                          f"{c['held']:.0%} held by its rings; "
                          f"{c['trained_labels']} training label(s) of its type", flush=True)
    finally:
        if started:
            ray.shutdown()
    t = total
    if outcomes:
        for name, c in outcome_summary(pl.concat(outcomes)).items():
            print(f"{name.replace('_', ' ')}: {c['found']} of {c['campaigns']} found, missed {c['missed_by_scorer']} by the "
                  f"scorer and {c['missed_by_rings']} by the rings")
    print(f"{len(args.seeds)} seed(s), settings {settings or 'as shipped'}: MEDIUM {t['found']}/{t['campaigns']} campaigns found "
          f"({t['found'] / max(t['campaigns'], 1):.1%}), member precision {1 - t['benign'] / max(t['members'], 1):.4f} pooled "
          f"({t['benign']} benign of {t['members']}); {t['split']} campaign(s) in several rings, {t['whole']} whole through "
          f"related rings; HIGH {t['high_found']} found at {1 - t['high_benign'] / max(t['high_members'], 1):.4f}; "
          f"rings {t['seconds']:.1f} s")


if __name__ == "__main__":
    main()
