#!/usr/bin/env python3
"""Benchmark the gRPC risk service (issue 6) with 1M accounts in the store.

Runs, against a real ``ringwatch serve`` process on 127.0.0.1 (client and server share the
machine's cores):

1. open loop: single lookups at a fixed offered rate (default 3,000 QPS); latency is measured
   from each request's *scheduled* send time, so a stalled server cannot hide queueing
   (no coordinated omission); p50/p99 and errors.
2. closed loop: 1, 8 and 32 requests in flight; QPS and p50/p99.
3. batches of 100 and 1,000 ids (closed loop, 4 in flight): ids/s and p99.

The client is grpc.aio in this process. When ``ghz`` is found (``go install
github.com/bojand/ghz/cmd/ghz@latest``) the open and closed loops are repeated with it through
server reflection (a Go client costs the shared cores less). ``--server sync`` benchmarks the
thread-pool grpcio server over the same answer functions, which is how grpc.aio was chosen.

Usage:
    .venv/bin/python scripts/bench_service.py [--accounts 1000000] [--duration 10] [--workers 1]
        [--server aio|sync] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from ringwatch.settings import Settings  # noqa: E402
from ringwatch.types import RISK_LEVELS  # noqa: E402
from ringwatch.v1 import risk_pb2, risk_pb2_grpc  # noqa: E402
from ringwatch.versions import Home  # noqa: E402


def make_scores(home: Path, accounts: int) -> list[str]:
    """Publish a score set of ``accounts`` synthetic accounts (reused when already there)."""
    scores = Home(home).scores
    ids = np.char.add("acct_", np.char.zfill(np.arange(accounts).astype(str), 8))
    if scores.current() is not None and scores.manifest().get("accounts") == accounts:
        return ids.tolist()
    rng = np.random.default_rng(7)
    risk = rng.beta(0.5, 5, accounts).astype(np.float32)
    level = np.array(RISK_LEVELS)[np.searchsorted([0.25, 0.5, 0.8], risk)]
    ring = np.where(rng.random(accounts) < 0.01, np.char.add("ring_", (np.arange(accounts) % 500).astype(str)), None)
    table = pa.table({
        "account_id": ids, "risk": risk, "level": level,
        "ring_id": pa.array(ring.tolist(), pa.string()),
        "reasons": pa.array(['["shares devices with 3 flagged accounts"]'] * accounts),
    })
    manifest = {"model_version": "bench", "snapshot_version": "bench", "accounts": accounts,
                "scored_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with scores.publish(manifest) as staging:
        pq.write_table(table, staging / "scores.parquet")
    return ids.tolist()


def pct(lat: list[float]) -> dict[str, float]:
    a = np.asarray(lat) * 1e3
    if not a.size:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3),
            "max_ms": round(float(a.max()), 3)}


async def open_loop(target: str, ids: list[str], rate: float, duration: float) -> dict:
    async with grpc.aio.insecure_channel(target) as ch:
        stub = risk_pb2_grpc.RiskServiceStub(ch)
        reqs = [risk_pb2.GetRiskScoreRequest(account_id=ids[i]) for i in np.random.default_rng(1).integers(0, len(ids), 4096)]
        loop = asyncio.get_running_loop()
        lat: list[float] = []
        errors = 0

        async def one(req: risk_pb2.GetRiskScoreRequest, scheduled: float) -> None:
            nonlocal errors
            try:
                await stub.GetRiskScore(req, timeout=2)
                lat.append(loop.time() - scheduled)
            except grpc.RpcError:
                errors += 1

        n = int(rate * duration)
        tasks = []
        start = loop.time() + 0.05
        for i in range(n):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(reqs[i % len(reqs)], scheduled)))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
        return {"offered_qps": rate, "achieved_qps": round(len(lat) / elapsed, 1), "errors": errors, **pct(lat)}


async def closed_loop(target: str, ids: list[str], in_flight: int, duration: float, batch: int = 0) -> dict:
    async with grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 << 20)]) as ch:
        stub = risk_pb2_grpc.RiskServiceStub(ch)
        rng = np.random.default_rng(2)
        if batch:
            reqs = [risk_pb2.BatchGetRiskScoresRequest(account_ids=[ids[i] for i in rng.integers(0, len(ids), batch)]) for _ in range(64)]
            call = stub.BatchGetRiskScores
        else:
            reqs = [risk_pb2.GetRiskScoreRequest(account_id=ids[i]) for i in rng.integers(0, len(ids), 4096)]
            call = stub.GetRiskScore
        loop = asyncio.get_running_loop()
        lat: list[float] = []
        errors = 0
        stop_at = loop.time() + duration

        async def worker(k: int) -> None:
            nonlocal errors
            i = k
            while loop.time() < stop_at:
                t0 = loop.time()
                try:
                    reply = await call(reqs[i % len(reqs)], timeout=5)
                    if batch:  # what a caller does with the answer: arrays
                        np.fromiter(reply.risks, np.float32, len(reply.risks))
                    lat.append(loop.time() - t0)
                except grpc.RpcError:
                    errors += 1
                i += in_flight

        t0 = loop.time()
        await asyncio.gather(*(worker(k) for k in range(in_flight)))
        elapsed = loop.time() - t0
        out = {"in_flight": in_flight, "qps": round(len(lat) / elapsed, 1), "errors": errors, **pct(lat)}
        if batch:
            out = {"batch": batch, **out, "ids_per_s": round(len(lat) * batch / elapsed)}
        return out


def run_ghz(ghz: str, target: str, ids: list[str], duration: float, rate: int | None, concurrency: int) -> dict:
    data = json.dumps({"account_id": ids[123_456 % len(ids)]})
    total = int(duration * (rate or 2000))  # a count, not -z: -z cancels the calls in flight at the end
    cmd = [ghz, "--insecure", "--call", "ringwatch.v1.RiskService/GetRiskScore", "-d", data, "-n", str(total),
           "-c", str(concurrency), "--connections", "1", "-O", "json", target]
    if rate:
        cmd[1:1] = ["--rps", str(rate)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if out.returncode not in (0, 1) or not out.stdout.strip():
        return {"error": out.stderr.strip()[-300:]}
    report = json.loads(out.stdout)
    lat = {d["percentage"]: d["latency"] / 1e6 for d in report.get("latencyDistribution") or []}
    errors = sum(v for k, v in (report.get("statusCodeDistribution") or {}).items() if k != "OK")
    return {"rps": rate, "concurrency": concurrency, "qps": round(report["rps"], 1), "errors": errors,
            "p50_ms": round(lat.get(50, float("nan")), 3), "p99_ms": round(lat.get(99, float("nan")), 3)}


def start_sync_server(home: Path) -> tuple[grpc.Server, int]:
    """The thread-pool grpcio server over the same answer functions (for the aio/sync comparison)."""
    from services.risk_service import batch_get_risk_scores, get_risk_score
    from services.score_store import ScoreStore

    store = ScoreStore(Home(home).scores, cache_root=home / "cache" / "scores")
    store.refresh()

    class Sync(risk_pb2_grpc.RiskServiceServicer):
        def GetRiskScore(self, request, context):  # noqa: ANN001, ANN201, N802
            return get_risk_score(store.current, request)

        def BatchGetRiskScores(self, request, context):  # noqa: ANN001, ANN201, N802
            return risk_pb2.BatchGetRiskScoresResponse.FromString(batch_get_risk_scores(store.current, request))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    risk_pb2_grpc.add_RiskServiceServicer_to_server(Sync(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rate", type=int, default=3000, help="open-loop offered QPS")
    parser.add_argument("--workers", type=int, default=1, help="server processes (SO_REUSEPORT)")
    parser.add_argument("--server", choices=("aio", "sync"), default="aio")
    parser.add_argument("--home", type=Path, default=REPO / ".ringwatch-bench", help="where the 1M-account score set is kept")
    parser.add_argument("--no-ghz", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    t0 = time.perf_counter()
    ids = make_scores(args.home, args.accounts)
    print(f"score set with {len(ids):,} accounts ready in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    settings = Settings(home=args.home, grpc_port=0, grpc_token=None)
    sync_server = None
    if args.server == "sync":
        sync_server, port = start_sync_server(args.home)
    else:
        from services.grpc_server import start_background, stop_background

        stop_background(settings)
        t0 = time.perf_counter()
        port = start_background(settings, 0, workers=args.workers)
        print(f"server up (SERVING) in {time.perf_counter() - t0:.1f}s on port {port}", file=sys.stderr)
    target = f"127.0.0.1:{port}"
    results: dict = {"accounts": len(ids), "server": args.server, "workers": args.workers, "cpus": os.cpu_count(),
                     "duration_s": args.duration}
    try:
        asyncio.run(closed_loop(target, ids, 8, 2.0))  # warm up
        results["open_loop"] = asyncio.run(open_loop(target, ids, args.rate, args.duration))
        print("open loop", results["open_loop"], file=sys.stderr)
        results["closed_loop"] = []
        for k in (1, 8, 32):
            r = asyncio.run(closed_loop(target, ids, k, args.duration))
            results["closed_loop"].append(r)
            print("closed loop", r, file=sys.stderr)
        results["batches"] = []
        for size in (100, 1000):
            r = asyncio.run(closed_loop(target, ids, 4, args.duration, batch=size))
            results["batches"].append(r)
            print("batch", r, file=sys.stderr)
        ghz = shutil.which("ghz") or str(Path.home() / "go" / "bin" / "ghz")
        if not args.no_ghz and Path(ghz).exists() and args.server == "aio":
            results["ghz"] = [run_ghz(ghz, target, ids, args.duration, args.rate, 50)]
            for k in (1, 8, 32):
                results["ghz"].append(run_ghz(ghz, target, ids, args.duration, None, k))
            for r in results["ghz"]:
                print("ghz", r, file=sys.stderr)
    finally:
        if sync_server is not None:
            sync_server.stop(0)
        else:
            stop_background(settings)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    tempfile.tempdir = None
    main()
