"""Prometheus metrics of the risk service, served over HTTP by ``prometheus_client``.

Each server gets its own :class:`~prometheus_client.CollectorRegistry` so several servers (tests,
worker processes) can live in one interpreter. Label children are bound once, so recording a
request costs a dict lookup and two C-level updates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

if TYPE_CHECKING:
    from services.score_store import ScoreStore

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
"""Seconds; fine below 2 ms because that is the service's p99 goal."""


class ServiceMetrics:
    """Requests by method and status, latency histograms, and the served score set.

    Args:
        store: The score store whose version and age are exported.
        registry: Registry to register into (default: a fresh one).
    """

    def __init__(self, store: ScoreStore | None = None, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "ringwatch_grpc_requests", "RPCs handled, by method and gRPC status code.", ["method", "code"], registry=self.registry
        )
        self.latency = Histogram(
            "ringwatch_grpc_request_seconds", "Server-side handling time of RPCs.", ["method"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
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
        self.swaps = Counter("ringwatch_score_swaps", "Hot swaps to a newer score set.", registry=self.registry)
        self._children: dict[tuple[str, grpc.StatusCode], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}
        if store is not None:
            self.bind_store(store)

    def bind_store(self, store: ScoreStore) -> None:
        """Export the store's current version, size and age (evaluated at scrape time)."""

        def age() -> float:
            snap = store.current
            return snap.info.age_s() if snap is not None else float("nan")

        self.store_age.set_function(age)
        self.store_accounts.set_function(lambda: len(store.current) if store.current is not None else 0)
        self.store_loaded.set_function(lambda: 1.0 if store.current is not None else 0.0)
        if store.current is not None:
            self.on_swap(None, store.current)
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
        key = (method, code)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(method, code.name)
        child.inc()
        hist = self._latency_children.get(method)
        if hist is None:
            hist = self._latency_children[method] = self.latency.labels(method)
        hist.observe(seconds)

    def serve_http(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread; return the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)
