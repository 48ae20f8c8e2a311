#!/usr/bin/env python3
"""Benchmark the gRPC risk service (issue 6) with 1M accounts in the store.

Runs, against a real ``ringwatch serve`` process on 127.0.0.1 (client and server share the
machine's cores):

1. open loop: single lookups at a fixed offered rate (default 3,000 QPS); latency is measured
   from each request's *scheduled* send time, so a stalled server cannot hide queueing
   (no coordinated omission); p50/p99 and errors.
2. closed loop: 1, 8 and 32 requests in flight; QPS and p50/p99.
3. batches of 100 and 1,000 ids (closed loop, 4 in flight): ids/s and p99. The batch client
   is the cheapest a Python caller can be: requests serialised once, raw bytes over
   ``--channels`` connections, answers decoded as numpy views (``decode_batch_response``).

Clients. A Python client cannot offer more than a few thousand calls a second on these cores,
so the Go ones do the measuring (``--client``, default ``go`` when built):

* ``go``: ``edge/bin/ringwatch-load`` (built by ``./scripts/bootstrap``; generated types, the
  leanest caller): single lookups of random ids (open loop: call k due at k/rate, latency from
  when it was due; closed loop: a fixed number in flight) and batches, over ``--workers``
  connections (2 for batches). ghz, when found, repeats the open loop and the batches through
  reflection (``open_loop_ghz``, ``batches_ghz``): the same runs, reproducible with a public
  tool, though it spends more CPU per call than the edge does.
* ``ghz`` (``go install github.com/bojand/ghz/cmd/ghz@latest``): single lookups of one fixed id.
* ``python``: a grpc.aio client in this process.

Batches of 100 and 1,000 ids are also run from the Python raw-bytes client (``batches``). Every
run records the 1-minute load average, because on a shared machine the numbers mean little
without it. ``--server sync`` benchmarks the thread-pool grpcio server over the same answer
functions (Python client only). ``--edge`` benchmarks the Go edge (``ringwatch serve --edge``,
started by the same launcher as the Python server; ``./scripts/bootstrap`` builds it).

Usage:
    .venv/bin/python scripts/bench_service.py [--accounts 1000000] [--duration 10] [--workers 1]
        [--channels 2] [--batch-in-flight 4] [--client go|ghz|python] [--server aio|sync] [--edge]
        [--json results.json]
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


async def batch_loop(target: str, ids: list[str], in_flight: int, duration: float, batch: int, channels: int) -> dict:
    """Batches the cheapest way a Python caller can: requests serialised once up front, raw
    bytes through ``channels`` separate connections, answers decoded as numpy views."""
    from services.risk_client import BATCH_METHOD, decode_batch_response

    chans = [grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 << 20), ("ringwatch.bench_channel", i)])
             for i in range(channels)]
    calls = [ch.unary_unary(BATCH_METHOD) for ch in chans]  # bytes in, bytes out
    rng = np.random.default_rng(2)
    reqs = [risk_pb2.BatchGetRiskScoresRequest(account_ids=[ids[i] for i in rng.integers(0, len(ids), batch)]).SerializeToString()
            for _ in range(64)]
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    errors = 0
    stop_at = loop.time() + duration

    async def worker(k: int) -> None:
        nonlocal errors
        i, call = k, calls[k % channels]
        while loop.time() < stop_at:
            t0 = loop.time()
            try:
                statuses, risks, _levels, _rings, _set = decode_batch_response(await call(reqs[i % len(reqs)], timeout=5))
                assert risks.size == batch
                lat.append(loop.time() - t0)
            except grpc.RpcError:
                errors += 1
            i += in_flight

    t0 = loop.time()
    await asyncio.gather(*(worker(k) for k in range(in_flight)))
    elapsed = loop.time() - t0
    for ch in chans:
        await ch.close()
    return {"batch": batch, "in_flight": in_flight, "channels": channels, "qps": round(len(lat) / elapsed, 1), "errors": errors,
            **pct(lat), "ids_per_s": round(len(lat) * batch / elapsed)}


def run_ghz(ghz: str, target: str, ids: list[str], duration: float, rate: int | None, concurrency: int, connections: int = 1,
            *, batch: int = 0, expected_qps: int = 2000) -> dict:
    """One ghz run: single lookups of one fixed id, or (``batch``) batches of random ids.

    The count of calls is ``duration * (rate or expected_qps)`` (a count, not ``-z``: ``-z``
    cancels the calls in flight at the end, which shows as errors).
    """
    total = int(duration * (rate or expected_qps))
    cmd = [ghz, "--insecure", "-n", str(total), "-c", str(concurrency), "--connections", str(min(connections, concurrency)),
           "-O", "json", target]
    with tempfile.TemporaryDirectory() as tmp:
        if batch:  # count-prefixed binary messages: ghz sends them round robin, no per-call JSON work
            data_file = Path(tmp) / "batches.bin"
            write_requests(data_file, ids, batch)
            cmd[1:1] = ["--call", "ringwatch.v1.RiskService/BatchGetRiskScores", "--binary-file", str(data_file)]
        else:
            cmd[1:1] = ["--call", "ringwatch.v1.RiskService/GetRiskScore", "-d", json.dumps({"account_id": ids[123_456 % len(ids)]})]
        if rate:
            cmd[1:1] = ["--rps", str(rate)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration * 3 + 60)
    if out.returncode not in (0, 1) or not out.stdout.strip():
        return {"error": out.stderr.strip()[-300:]}
    report = json.loads(out.stdout)
    lat = {d["percentage"]: d["latency"] / 1e6 for d in report.get("latencyDistribution") or []}
    errors = sum(v for k, v in (report.get("statusCodeDistribution") or {}).items() if k != "OK")
    result = {"rps": rate, "concurrency": concurrency, "connections": min(connections, concurrency), "qps": round(report["rps"], 1),
              "errors": errors, "p50_ms": round(lat.get(50, float("nan")), 3), "p99_ms": round(lat.get(99, float("nan")), 3)}
    if batch:
        result = {"batch": batch, **result, "ids_per_s": round(report["rps"] * batch)}
    return result


def write_requests(path: Path, ids: list[str], batch: int, count: int = 16) -> None:
    """``count`` serialised requests of random ids, each behind its varint length (what ghz's
    ``--binary-file`` and ``ringwatch-load -requests`` read): batches of ``batch`` ids, or
    (``batch`` 0) single lookups."""
    rng = np.random.default_rng(3)
    with path.open("wb") as fh:
        for _ in range(count):
            if batch:
                msg = risk_pb2.BatchGetRiskScoresRequest(account_ids=[ids[i] for i in rng.integers(0, len(ids), batch)])
            else:
                msg = risk_pb2.GetRiskScoreRequest(account_id=ids[int(rng.integers(0, len(ids)))])
            raw = msg.SerializeToString()
            fh.write(_varint(len(raw)) + raw)


def run_load(binary: Path, target: str, ids: list[str], duration: float, batch: int, concurrency: int, connections: int,
             *, rate: int | None = None) -> dict:
    """One run of the lean Go client (``ringwatch-load``): batches of ``batch`` ids, or (0)
    single lookups of random ids; closed loop with ``concurrency`` in flight, or open loop at
    ``rate`` calls/s (latency from each call's due time)."""
    with tempfile.TemporaryDirectory() as tmp:
        requests = Path(tmp) / "requests.bin"
        write_requests(requests, ids, batch, count=16 if batch else 4096)
        cmd = [str(binary), "-target", target, "-method", "batch" if batch else "get", "-requests", str(requests),
               "-c", str(concurrency), "-connections", str(connections), "-duration", f"{duration}s"]
        if rate:
            cmd += ["-rps", str(rate)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-300:]}
    r = json.loads(out.stdout)
    result = {"rps": rate, "in_flight": None if rate else concurrency, "connections": connections, "qps": round(r["qps"], 1),
              "errors": r["errors"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "max_ms": r["max_ms"]}
    if rate:  # the same calls timed from when they were sent (without the client's lag behind schedule)
        result |= {"sent_p50_ms": r["sent_p50_ms"], "sent_p99_ms": r["sent_p99_ms"]}
    if batch:
        result = {"batch": batch, **result, "ids_per_s": round(r["qps"] * batch)}
    return result


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


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
    parser.add_argument("--edge", action="store_true", help="benchmark the Go edge in front of the aio server (ringwatch serve --edge)")
    parser.add_argument("--home", type=Path, default=REPO / ".ringwatch-bench", help="where the 1M-account score set is kept")
    parser.add_argument("--client", choices=("go", "ghz", "python"), default=None,
                        help="single-lookup client (default: go when edge/bin/ringwatch-load is built, else ghz when found, else python)")
    parser.add_argument("--channels", type=int, default=2, help="connections the batch client spreads over")
    parser.add_argument("--batch-in-flight", type=int, default=4, help="batch requests in flight")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.edge and (args.server != "aio" or args.workers != 1):
        parser.error("--edge runs the aio server behind the edge, with one worker")

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
        port = start_background(settings, 0, workers=args.workers, edge=args.edge)
        print(f"server up (SERVING) in {time.perf_counter() - t0:.1f}s on port {port}", file=sys.stderr)
    target = f"127.0.0.1:{port}"
    results: dict = {"accounts": len(ids), "server": "edge" if args.edge else args.server, "workers": args.workers, "cpus": os.cpu_count(),
                     "duration_s": args.duration}
    ghz = shutil.which("ghz") or str(Path.home() / "go" / "bin" / "ghz")
    have_ghz = Path(ghz).exists() and args.server == "aio"
    load_client = REPO / "edge" / "bin" / "ringwatch-load"
    client = args.client or ("go" if load_client.is_file() else "ghz" if have_ghz else "python")
    if (client == "go" and not load_client.is_file()) or (client == "ghz" and not have_ghz):
        parser.error(f"--client {client}: {'run ./scripts/bootstrap to build edge/bin/ringwatch-load' if client == 'go' else 'ghz not found (or --server sync)'}")
    conns = max(args.workers, 1)
    results["client"] = client

    def stamp(r: dict) -> dict:
        return {**r, "load_avg_1m": round(os.getloadavg()[0], 2)}

    try:
        asyncio.run(closed_loop(target, ids, 8, 2.0))  # warm up
        if client == "go":  # the leanest caller: the shared cores go to the server
            results["open_loop"] = stamp(run_load(load_client, target, ids, args.duration, 0, 0, conns, rate=args.rate))
            results["closed_loop"] = [stamp(run_load(load_client, target, ids, args.duration, 0, k, conns)) for k in (1, 8, 32)]
        elif client == "ghz":
            results["open_loop"] = stamp(run_ghz(ghz, target, ids, args.duration, args.rate, 50, conns))
            results["closed_loop"] = [stamp(run_ghz(ghz, target, ids, args.duration, None, k, conns)) for k in (1, 8, 32)]
        else:
            results["open_loop"] = stamp(asyncio.run(open_loop(target, ids, args.rate, args.duration)))
            results["closed_loop"] = [stamp(asyncio.run(closed_loop(target, ids, k, args.duration))) for k in (1, 8, 32)]
        print("open loop", results["open_loop"], file=sys.stderr)
        for r in results["closed_loop"]:
            print("closed loop", r, file=sys.stderr)
        if client == "go" and have_ghz:  # the same open loop, reproducible with a public tool
            results["open_loop_ghz"] = stamp(run_ghz(ghz, target, ids, args.duration, args.rate, 50, conns))
            print("open loop (ghz)", results["open_loop_ghz"], file=sys.stderr)
        results["batches"] = []
        for size in (100, 1000):
            r = stamp(asyncio.run(batch_loop(target, ids, args.batch_in_flight, args.duration, size, args.channels)))
            results["batches"].append(r)
            print("batch", r, file=sys.stderr)
        if load_client.is_file():
            results["batches_go"] = []
            for size in (100, 1000):
                r = stamp(run_load(load_client, target, ids, args.duration, size, 8, 2))
                results["batches_go"].append(r)
                print("batch (ringwatch-load)", r, file=sys.stderr)
        if have_ghz and client != "python":
            results["batches_ghz"] = []
            for size, measured in zip((100, 1000), results["batches"]):  # ghz takes a count: about duration's worth
                r = stamp(run_ghz(ghz, target, ids, args.duration, None, 8, 2, batch=size, expected_qps=max(int(measured["qps"]), 10)))
                results["batches_ghz"].append(r)
                print("batch (ghz)", r, file=sys.stderr)
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
