"""Prometheus metrics of the risk service, served over HTTP by ``prometheus_client``.

Each server gets its own :class:`~prometheus_client.CollectorRegistry` so several servers (tests,
worker processes) can live in one interpreter.

Requests are aggregated in plain Python lists inside the process (:class:`RequestStats`) and
turned into Prometheus samples only when scraped: recording a call is a dict lookup, a
``bisect`` and two list increments (~0.3 µs), where ``prometheus_client``'s labelled
``Counter``/``Histogram`` take a lock per update. The server is single-threaded (grpc.aio), so
the increments need no lock.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from services.score_store import ScoreStore

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
"""Seconds; fine below 2 ms because that is the service's p99 goal."""


class RequestStats(Collector):
    """Per-method request counts by status and latency histograms, exported at scrape time.

    Exposes ``ringwatch_grpc_requests_total{method,code}`` and
    ``ringwatch_grpc_request_seconds{method}`` (a histogram with :data:`LATENCY_BUCKETS`).
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, grpc.StatusCode], int] = {}
        self.buckets: dict[str, list[float]] = {}  # per method: bucket counts (+Inf last), then the sum

    def observe(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        key = (method, code)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        row = self.buckets.get(method)
        if row is None:
            row = self.buckets[method] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        row[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("ringwatch_grpc_requests", "RPCs handled, by method and gRPC status code.", labels=["method", "code"])
        for (method, code), n in list(self.counts.items()):
            requests.add_metric([method, code.name], n)
        yield requests
        latency = HistogramMetricFamily("ringwatch_grpc_request_seconds", "Server-side handling time of RPCs.", labels=["method"])
        for method, row in list(self.buckets.items()):
            row = list(row)
            cumulative, acc = [], 0.0
            for bound, n in zip((*map(str, LATENCY_BUCKETS), "+Inf"), row[:-1]):
                acc += n
                cumulative.append((bound, acc))
            latency.add_metric([method], cumulative, row[-1])
        yield latency


class ServiceMetrics:
    """Requests by method and status, latency histograms, and the served score set.

    Args:
        store: The score store whose version and age are exported.
        registry: Registry to register into (default: a fresh one).
    """

    def __init__(self, store: ScoreStore | None = None, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = RequestStats()
        self.registry.register(self.requests)
        self.batch_items = Counter(
            "ringwatch_grpc_batch_items", "Account ids asked for in BatchGetRiskScores.", registry=self.registry
        )
        self.store_version = Gauge(
            "ringwatch_score_set_info", "The score set being served (value 1; versions in labels).",
            ["score_version", "model_version", "snapshot_version"], registry=self.registry,
        )
        self.store_age = Gauge(
            "ringwatch_score_set_age_seconds", "Seconds since the served score set was scored.", registry=self.registry
        )
        self.store_accounts = Gauge("ringwatch_score_set_accounts", "Accounts in the served score set.", registry=self.registry)
        self.store_loaded = Gauge("ringwatch_score_set_loaded", "1 when a score set is loaded.", registry=self.registry)
        self.store_warnings = Gauge(
            "ringwatch_score_set_warnings", "Warnings scoring wrote for the served score set (0: nothing amiss).",
            registry=self.registry,
        )
        self.swaps = Counter("ringwatch_score_swaps", "Hot swaps to a newer score set.", registry=self.registry)
        if store is not None:
            self.bind_store(store)

    def bind_store(self, store: ScoreStore) -> None:
        """Export the store's current version, size and age (evaluated at scrape time)."""

        def age() -> float:
            snap = store.current
            return snap.info.age_s() if snap is not None else float("nan")

        self.store_age.set_function(age)
        self.store_accounts.set_function(lambda: len(snap) if (snap := store.current) is not None else 0)
        self.store_loaded.set_function(lambda: 1.0 if store.current is not None else 0.0)
        self.store_warnings.set_function(lambda: len(snap.info.warnings) if (snap := store.current) is not None else 0)
        if (snap := store.current) is not None:
            self.on_swap(None, snap)
        store.add_listener(self.on_swap)

    def on_swap(self, old: object, new: object) -> None:
        """Store listener: relabel the version gauge."""
        info = new.info  # type: ignore[attr-defined]
        self.store_version.clear()
        self.store_version.labels(info.score_version, info.model_version, info.snapshot_version).set(1)
        if old is not None:
            self.swaps.inc()

    def observe(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        """Record one finished RPC."""
        self.requests.observe(method, code, seconds)

    def serve_http(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread; return the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)
