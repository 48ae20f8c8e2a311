#!/usr/bin/env python
"""Benchmark the Ray graph build against the same aggregations in raw Polars, one process.

For each size it generates a synthetic log (cached under ``.ringwatch-bench/``), then:

* **ray**: ``graphs.build.build_snapshot`` (local Ray, 2 CPUs): prepare → aggregate →
  assemble → publish, including co-action with hub targets (viral videos, giveaways).
* **polars**: one process, no Ray, no buckets: read everything, validate, features, direct
  edges, infrastructure usage, co-action, answer pairs, shared-key pairs, written to Parquet.

It prints events/s, wall time and peak memory (RSS of the whole process tree, Ray workers
included) for both, and the ratio ray/polars. Usage::

    .venv/bin/python scripts/bench_build.py --sizes 1M,10M,30M
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import polars as pl
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graphs import relations, validate  # noqa: E402
from graphs.assemble import AssembleParams, assemble  # noqa: E402,F401
from graphs.build import BuildParams, build_snapshot  # noqa: E402
from graphs.features import actor_features  # noqa: E402
from graphs.mapping import EventMapping  # noqa: E402
from graphs.readers import discover, read_file  # noqa: E402
from graphs.synth import SynthConfig, generate  # noqa: E402
from ringwatch.versions import Home  # noqa: E402

CACHE = ROOT / ".ringwatch-bench"


class PeakRSS:
    """Samples the RSS of this process and all its children until stopped."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def parse_size(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "KM" else text) * mult)


def log_for(events: int) -> Path:
    """A cached synthetic log of about ``events`` events (7 days)."""
    out = CACHE / f"synth-{events}"
    if (out / "summary.json").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    days, per_day = 7, 6.0
    accounts = max(1000, int(events / (days * per_day * 1.1)))
    campaigns = max(12, accounts // 2500)
    t = time.perf_counter()
    summary = generate(out, SynthConfig(accounts=accounts, days=days, campaigns=campaigns, seed=1))
    print(f"  generated {summary['events']:,} events in {time.perf_counter() - t:.1f} s → {out}", flush=True)
    return out


def raw_polars(events_dir: Path, out: Path, window_s: int, cap: int) -> int:
    """The build's aggregations in one Polars process; returns the number of good events."""
    now = dt.datetime.now(dt.timezone.utc)
    frames = []
    mapping = EventMapping()
    for f in discover([str(events_dir)]):
        good, _bad = validate.split(validate.normalise(mapping.apply(read_file(f)[0])), now)
        frames.append(good)
    ev = pl.concat(frames)
    out.mkdir(parents=True, exist_ok=True)
    actor_features(ev).write_parquet(out / "features.parquet")
    relations.direct_edges(ev).write_parquet(out / "edges.parquet")
    params = AssembleParams()
    for key, cap_k in (("device_id", params.max_accounts_per_device), ("ip", params.max_accounts_per_ip),
                       ("text_hash", params.max_accounts_per_text)):
        usage = relations.key_usage(ev, key).rename({key: "key"})
        relations.shared_key_pairs(usage, "key", cap_k).write_parquet(out / f"shared_{key}.parquet")
    slim = ev.filter(relations.coacts()).select(
        relations.coaction_target(ev).alias("target"), "ts", "actor_id").filter(pl.col("target").is_not_null())
    counts, answers = relations.responses(slim, window_s)
    counts.write_parquet(out / "response.parquet")
    answers.write_parquet(out / "answers.parquet")
    relations.coaction_pairs(slim, window_s, cap).filter(pl.col("count") >= params.coaction_min_count) \
        .write_parquet(out / "coaction.parquet")
    return ev.height


def run(size: int, baseline: bool) -> dict[str, object]:
    log = log_for(size)
    n_events = json.loads((log / "summary.json").read_text())["events"]
    result: dict[str, object] = {"target_events": size, "events": n_events}
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        home = Home(Path(tmp) / "home")
        with PeakRSS() as mem:
            t = time.perf_counter()
            manifest = build_snapshot(home, BuildParams(events=[str(log / "events")], max_bad_fraction=0.05))
            wall = time.perf_counter() - t
        result["ray"] = {"seconds": round(wall, 2), "events_per_s": round(n_events / wall), "peak_rss_mb": mem.peak // 2**20,
                         "coaction_edges": manifest["counts"]["relations"].get("coaction", 0),
                         "accounts": manifest["counts"]["accounts"], "stages_s": manifest["timings_s"]}
        if baseline:
            with PeakRSS() as mem:
                t = time.perf_counter()
                raw_polars(log / "events", Path(tmp) / "raw", 300, 200)
                wall = time.perf_counter() - t
            result["polars"] = {"seconds": round(wall, 2), "events_per_s": round(n_events / wall), "peak_rss_mb": mem.peak // 2**20}
            result["ratio_ray_over_polars"] = round(result["ray"]["events_per_s"] / result["polars"]["events_per_s"], 2)  # type: ignore[index]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated event counts, e.g. 1M,10M,30M")
    parser.add_argument("--no-baseline", action="store_true", help="skip the raw-Polars comparison")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    print(f"bench_build on {os.cpu_count()} CPUs, polars {pl.__version__}", flush=True)
    results = []
    for size in (parse_size(s) for s in args.sizes.split(",")):
        r = run(size, not args.no_baseline)
        results.append(r)
        ray_r, pol = r["ray"], r.get("polars")
        line = (f"{r['events']:>12,} events | ray {ray_r['seconds']:7.1f} s {ray_r['events_per_s']:>10,} ev/s "  # type: ignore[index]
                f"peak {ray_r['peak_rss_mb']:>6,} MB | coaction edges {ray_r['coaction_edges']:,}")  # type: ignore[index]
        if pol:
            line += (f" | polars {pol['seconds']:7.1f} s {pol['events_per_s']:>10,} ev/s peak {pol['peak_rss_mb']:>6,} MB"  # type: ignore[index]
                     f" | ratio {r['ratio_ray_over_polars']}")
        print(line, flush=True)
        print(f"    ray stages (s): {ray_r['stages_s']}", flush=True)  # type: ignore[index]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
