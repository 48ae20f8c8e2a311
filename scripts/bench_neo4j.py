#!/usr/bin/env python
"""Benchmark the Neo4j export and the investigator queries on a synthetic graph.

Generates a snapshot + score set for N accounts (default 1M) with numpy/Polars into a
temporary Ringwatch home, starts the embedded Neo4j there with the project's own code,
exports (rows/s), then times every investigator query on random accounts (p50/p95 ms).
Everything is removed afterwards unless ``--keep``.

    .venv/bin/python scripts/bench_neo4j.py --accounts 1000000 [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from ringwatch.settings import Settings
from ringwatch.versions import Home
from services import investigate, neo4j_export, neo4j_server

console = Console(stderr=True)
RING_SIZE = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ids(prefix: str, idx: np.ndarray) -> pl.Series:
    """``prefix`` + zero-padded index, e.g. ``u0000042``."""
    return pl.select((pl.lit(prefix) + pl.Series(idx).cast(pl.String).str.zfill(7)).alias("id")).to_series()


def _edges(rng: np.random.Generator, n_accounts: int, n_edges: int, t0: datetime) -> pl.DataFrame:
    src = rng.integers(0, n_accounts, n_edges)
    dst = rng.integers(0, n_accounts, n_edges)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    first = pl.Series(rng.integers(0, 30 * 86400, src.size)).cast(pl.Int64)
    return pl.DataFrame({
        "src": _ids("u", src), "dst": _ids("u", dst),
        "count": pl.Series(rng.integers(1, 20, src.size)).cast(pl.Int64),
    }).with_columns(
        (pl.lit(t0) + pl.duration(seconds=first)).alias("first_ts"),
        (pl.lit(t0) + pl.duration(seconds=first + 3600)).alias("last_ts"),
    ).unique(subset=["src", "dst"])


def generate(home: Path, n: int, seed: int = 7) -> dict[str, int]:
    """Write a synthetic snapshot + scores for ``n`` accounts; return table sizes."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    n_rings = max(1, n // 500)
    ring_members = rng.choice(n, size=n_rings * RING_SIZE, replace=False).reshape(n_rings, RING_SIZE)
    sizes: dict[str, int] = {}
    manifest: dict[str, Any] = {"kind": "bench"}
    with Home(home).snapshots.publish(manifest) as staging:
        accounts = pl.DataFrame({
            "account_id": _ids("u", np.arange(n)),
            "out_degree": rng.poisson(3, n).astype(np.float64),
            "reciprocity": rng.random(n),
            "night_share": rng.random(n),
        }).with_columns(pl.lit(t0).alias("first_ts"), pl.lit(t0).alias("last_ts"))
        accounts.write_parquet(staging / "accounts.parquet")
        sizes["accounts"] = n
        (staging / "relations").mkdir()
        for name, m in (("follow", int(1.5 * n)), ("like", n)):
            e = _edges(rng, n, m, t0)
            e.write_parquet(staging / "relations" / f"{name}.parquet")
            sizes[name] = e.height
        a, b = np.triu_indices(RING_SIZE, k=1)
        src = np.minimum(ring_members[:, a], ring_members[:, b]).ravel()
        dst = np.maximum(ring_members[:, a], ring_members[:, b]).ravel()
        clique = pl.DataFrame({"src": _ids("u", src), "dst": _ids("u", dst),
                               "count": pl.Series(rng.integers(5, 50, src.size)).cast(pl.Int64)}).with_columns(
            pl.lit(t0).alias("first_ts"), pl.lit(t0).alias("last_ts"))
        for name in ("coaction", "shared_device"):
            clique.write_parquet(staging / "relations" / f"{name}.parquet")
            sizes[name] = clique.height
        # One device per account (700k distinct, some shared); ring members share their ring's phone.
        device = rng.integers(0, int(0.7 * n), n)
        device[ring_members.ravel()] = np.repeat(int(0.7 * n) + np.arange(n_rings), RING_SIZE)
        ip = rng.integers(0, int(0.3 * n), n)
        ip[ring_members.ravel()] = np.repeat(int(0.3 * n) + np.arange(n_rings), RING_SIZE)
        for fname, col, prefix, values in (("account_device.parquet", "device_id", "d", device), ("account_ip.parquet", "ip", "ip", ip)):
            pl.DataFrame({"account_id": _ids("u", np.arange(n)), col: _ids(prefix, values),
                          "count": pl.Series(rng.integers(1, 30, n)).cast(pl.Int64)}).with_columns(
                pl.lit(t0).alias("first_ts"), pl.lit(t0).alias("last_ts")).write_parquet(staging / fname)
            sizes[fname.split(".")[0]] = n
    snapshot_version = manifest["version"]
    risk = rng.beta(1, 12, n).astype(np.float32)
    risk[ring_members.ravel()] = rng.uniform(0.8, 1.0, ring_members.size).astype(np.float32)
    ring_id = np.full(n, None, dtype=object)
    ring_id[ring_members.ravel()] = np.repeat([f"R{i + 1}" for i in range(n_rings)], RING_SIZE)
    level = np.select([risk >= 0.9, risk >= 0.7, risk >= 0.4], ["CRITICAL", "HIGH", "MEDIUM"], "LOW")
    scores = pl.DataFrame({
        "account_id": _ids("u", np.arange(n)), "risk": risk, "level": level,
        "ring_id": pl.Series(ring_id.tolist(), dtype=pl.String),
    }).with_columns(
        pl.when(pl.col("ring_id").is_not_null()).then(pl.lit('["shares a device with its ring", "acts in lockstep"]'))
        .otherwise(pl.lit("[]")).alias("reasons")
    )
    rings = pl.DataFrame({
        "ring_id": [f"R{i + 1}" for i in range(n_rings)],
        "size": [RING_SIZE] * n_rings, "edges": [RING_SIZE * (RING_SIZE - 1) // 2] * n_rings,
        "density": [1.0] * n_rings, "synchrony": rng.uniform(0.0, 1.0, n_rings), "mean_risk": rng.uniform(0.8, 1.0, n_rings),
        "ring_score": rng.uniform(0.5, 1.0, n_rings),
        "members": [sorted(f"u{m:07d}" for m in row) for row in ring_members],
    })
    with Home(home).scores.publish({"model_version": "bench", "snapshot_version": snapshot_version}) as staging:
        scores.sort("account_id").write_parquet(staging / "scores.parquet")
        rings.write_parquet(staging / "rings.parquet")
    sizes["scores"] = n
    sizes["rings"] = n_rings
    np.save(home / "ring_members.npy", ring_members)
    return sizes


def rescore(home: Path, scores_dir: Path, share: float, seed: int = 13) -> Path:
    """Publish a new score set where ``share`` of the accounts got a new risk (rings unchanged)."""
    rng = np.random.default_rng(seed)
    scores = pl.read_parquet(scores_dir / "scores.parquet")
    hit = pl.Series(rng.random(scores.height) < share)
    scores = scores.with_columns(pl.when(hit).then(pl.col("risk") * 0.5).otherwise(pl.col("risk")).alias("risk"))
    manifest = json.loads((scores_dir / "manifest.json").read_text())
    with Home(home).scores.publish({"model_version": "bench-2", "snapshot_version": manifest["snapshot_version"]}) as staging:
        scores.write_parquet(staging / "scores.parquet")
        shutil.copy(scores_dir / "rings.parquet", staging / "rings.parquet")
    return Home(home).scores.path()


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"p50_ms": statistics.median(ms), "p95_ms": ms[min(len(ms) - 1, int(0.95 * len(ms)))], "n": len(ms)}


def time_queries(driver: Any, home: Path, n: int, repeats: int, seed: int = 11) -> dict[str, dict[str, float]]:
    """p50/p95 of each investigator query over random accounts (after one warm-up each)."""
    rng = np.random.default_rng(seed)
    ring_members = np.load(home / "ring_members.npy")
    members = [f"u{m:07d}" for m in ring_members[rng.integers(0, len(ring_members), repeats), 0]]
    anyone = [f"u{m:07d}" for m in rng.integers(0, n, repeats)]
    peers = [f"u{row[3]:07d}" for row in ring_members[rng.integers(0, len(ring_members), repeats)]]
    cases: dict[str, Callable[[int], Any]] = {
        "shared_device_accounts": lambda i: investigate.shared_device_accounts(driver, anyone[i] if i % 2 else members[i]),
        "shared_infra": lambda i: investigate.shared_infra(driver, anyone[i] if i % 2 else members[i]),
        "why": lambda i: investigate.why(driver, anyone[i] if i % 2 else members[i]),
        "ring": lambda i: investigate.ring(driver, members[i]),
        "top_rings": lambda i: investigate.top_rings(driver, limit=10),
        "path (ring members)": lambda i: investigate.path(driver, members[i], peers[i] if peers[i] != members[i] else anyone[i]),
    }
    out = {}
    for name, fn in cases.items():
        fn(0)
        samples = []
        for i in range(repeats):
            t = time.perf_counter()
            fn(i)
            samples.append(time.perf_counter() - t)
        out[name] = _percentiles(samples)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=neo4j_export.DEFAULT_BATCH_SIZE)
    parser.add_argument("--workers", type=int, default=neo4j_export.DEFAULT_WORKERS, help="Export batches in flight.")
    parser.add_argument("--method", default="auto", choices=neo4j_export.METHODS,
                        help="First-load method (auto: bulk import from 500k rows on an empty embedded database).")
    parser.add_argument("--changed", type=float, default=0.01,
                        help="Share of accounts whose score changes in the incremental re-export.")
    parser.add_argument("--repeats", type=int, default=200, help="Timed runs per query.")
    parser.add_argument("--home", type=Path, default=None, help="Work directory (default: a temp dir).")
    parser.add_argument("--keep", action="store_true", help="Keep the home and leave Neo4j running.")
    parser.add_argument("--no-reexport", action="store_true", help="Skip timing the idempotent second export.")
    parser.add_argument("--queries-only", action="store_true",
                        help="Reuse --home from a --keep run: skip generation and export, time the queries.")
    parser.add_argument("--json", action="store_true", help="Print results as JSON on stdout.")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="ringwatch-bench-neo4j-"))
    results: dict[str, Any] = {"accounts": args.accounts}
    try:
        if not args.queries_only:
            t = time.monotonic()
            results["table_rows"] = generate(home, args.accounts)
            results["generate_s"] = round(time.monotonic() - t, 1)
            console.print(f"generated {sum(results['table_rows'].values()):,} rows in {results['generate_s']}s under {home}")
        t = time.monotonic()
        neo4j_server.ensure_jars(log=console.print)
        info = neo4j_server.start(home, _free_port(), log=console.print)
        results["startup_s"] = round(time.monotonic() - t, 1)
        settings = Settings(home=home, neo4j_uri=None)
        with neo4j_server.connect(settings) as driver:
            snap_dir, scores_dir = neo4j_export.resolve_versions(Home(home).snapshots, Home(home).scores)
            if not args.queries_only:
                report = neo4j_export.export(driver, snap_dir, scores_dir, batch_size=args.batch_size, workers=args.workers,
                                             console=console, method=args.method, server_home=home)
                results["export"] = {"method": report.method, "rows": report.total_rows, "seconds": round(report.seconds, 1),
                                     "rows_per_s": round(report.rows_per_s), "nodes": report.nodes,
                                     "seconds_by_step": report.seconds_by_step,
                                     "relationships": report.relationships}
                console.print(f"first export ({report.method}): {report.total_rows:,} rows in {report.seconds:.1f}s "
                              f"= {report.rows_per_s:,.0f} rows/s; steps {report.seconds_by_step}")
            if not (args.queries_only or args.no_reexport):
                again = neo4j_export.export(driver, snap_dir, scores_dir, batch_size=args.batch_size, workers=args.workers,
                                            console=console, server_home=home)
                results["re_export"] = {"method": again.method, "seconds": round(again.seconds, 1),
                                        "rows_per_s": round(again.rows_per_s), "changed_scores": again.changed_scores,
                                        "same_counts": again.relationships == report.relationships and again.nodes == report.nodes}
                console.print(f"idempotent re-export ({again.method}): {again.seconds:.1f}s = {again.rows_per_s:,.0f} rows/s, "
                              f"{again.changed_scores:,} scores changed, same counts: {results['re_export']['same_counts']}")
                new_scores = rescore(home, scores_dir, args.changed)
                inc = neo4j_export.export(driver, snap_dir, new_scores, batch_size=args.batch_size, workers=args.workers,
                                          console=console, server_home=home)
                results["incremental"] = {"method": inc.method, "seconds": round(inc.seconds, 1),
                                          "rows_per_s": round(inc.rows_per_s), "changed_scores": inc.changed_scores,
                                          "retired": inc.retired, "seconds_by_step": inc.seconds_by_step}
                console.print(f"incremental re-export, {args.changed:.0%} of scores changed ({inc.method}): "
                              f"{inc.total_rows:,} rows in {inc.seconds:.1f}s = {inc.rows_per_s:,.0f} rows/s, "
                              f"{inc.changed_scores:,} scores changed, retired {inc.retired}")
            results["queries"] = time_queries(driver, home, args.accounts, args.repeats)
        table = Table(title=f"Investigator queries on {args.accounts:,} accounts ({info.uri})")
        for c in ("query", "p50 ms", "p95 ms"):
            table.add_column(c, justify="left" if c == "query" else "right")
        for name, q in results["queries"].items():
            table.add_row(name, f"{q['p50_ms']:.1f}", f"{q['p95_ms']:.1f}")
        console.print(table)
        if args.json:
            print(json.dumps(results, indent=2))
    finally:
        if not args.keep:
            neo4j_server.stop(home)
            if args.home is None:
                shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
