#!/usr/bin/env python
"""Benchmark the synthetic log generator: events/s and peak memory for ~1M and ~10M events.

Each size runs in a fresh child process so peak RSS (``ru_maxrss``; the generator's day
threads share it) is that run's alone. CPU seconds are reported next to wall time because a
shared machine's load changes wall time, not the work done.

    .venv/bin/python scripts/bench_synth.py            # 1M and 10M
    .venv/bin/python scripts/bench_synth.py --sizes 1e6 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

EVENTS_PER_ACCOUNT_WEEK = 44.0  # measured: ~6.3 events/account/day with the default knobs


def _child(accounts: int, days: int) -> None:
    from graphs.synth import SynthConfig, generate

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        c0 = os.times()
        summary = generate(tmp, SynthConfig(accounts=accounts, days=days, campaigns=max(12, accounts // 2500)))
        wall = time.perf_counter() - t0
        c1 = os.times()
        cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
        du = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(tmp) for f in fs)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"accounts": accounts, "days": days, "events": summary["events"], "seconds": round(wall, 2),
                      "events_per_s": round(summary["events"] / wall), "cpu_seconds": round(cpu, 2),
                      "events_per_cpu_s": round(summary["events"] / max(cpu, 1e-9)),
                      "cpu_s_per_million": round(cpu / summary["events"] * 1e6, 3), "threads": summary["threads"],
                      "peak_rss_mb": round(peak_self),
                      "output_mb": round(du / 1e6, 1), "cores": os.cpu_count(),
                      "load_avg_1m": round(os.getloadavg()[0], 2)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1e6,1e7", help="Target event counts, comma-separated.")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="One JSON object per size, nothing else.")
    ap.add_argument("--_child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        _child(*args._child)
        return
    for size in (float(x) for x in args.sizes.split(",")):
        accounts = max(200, int(size / (EVENTS_PER_ACCOUNT_WEEK * args.days / 7)))
        res = subprocess.run([sys.executable, __file__, "--_child", str(accounts), str(args.days)],
                             check=True, capture_output=True, text=True)
        row = json.loads(res.stdout.strip().splitlines()[-1])
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['events']:>12,} events ({row['accounts']:,} accounts × {row['days']} days): "
                  f"{row['seconds']:.1f} s wall, {row['events_per_s']:,} events/s "
                  f"({row['events_per_cpu_s']:,} per CPU-second, {row['cpu_s_per_million']} CPU-s per million, "
                  f"{row['threads']} threads); "
                  f"peak RSS {row['peak_rss_mb']:,} MB; "
                  f"{row['output_mb']} MB Parquet; load avg {row['load_avg_1m']} on {row['cores']} cores")


if __name__ == "__main__":
    main()
