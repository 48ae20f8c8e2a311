"""The Go edge (edge/, ringwatch-edge) in front of the real Python backend, on 127.0.0.1 port 0.

Every test runs the real binary as a process with the Python grpc.aio service behind it on a
loopback port (``services.edge.EdgeServer``), and talks to it over real channels.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ringwatch.errors import ConfigError, InputError, NotFoundError
from ringwatch.settings import Settings
from ringwatch.v1 import risk_pb2, risk_pb2_grpc
from ringwatch.versions import Home, VersionedDir
from services.auth import bearer_metadata
from services.edge import EdgeServer
from services.grpc_server import ServerOptions, background_status, start_background, stop_background
from services.risk_client import RiskClient, RiskServiceError
from services.risk_service import MAX_BATCH
from services.score_store import POINTER_FILE, ScoreStore
from tests.services.score_sets import corrupt, publish_scores
from tests.services.swap_load import calls_during
from tests.services.test_grpc_security import self_signed

pytestmark = pytest.mark.integration

BINARY = Settings().edge_binary
if not BINARY.is_file():
    pytest.skip(f"the Go edge is not built ({BINARY}); ./scripts/bootstrap builds it when Go 1.26+ is installed",
                allow_module_level=True)

IDS = [f"acct_{i:04d}" for i in range(200)]
RING = {"ring_id": "ring_1", "size": 3, "density": 0.67, "synchrony": 0.5, "mean_risk": 0.8, "ring_score": 0.9,
        "members": ["acct_0001", "acct_0002", "acct_0003"], "related": ["ring_7"], "related_links": [12]}
EXPLANATIONS = [{"account_id": "acct_0001", "reasons": '["shares device d1 with 2 accounts"]',
                 "top_neighbors": '[{"account_id": "acct_0002", "relation": "shared_device", "weight": 0.7}]'}]
OK, NF, BAD = risk_pb2.ITEM_STATUS_OK, risk_pb2.ITEM_STATUS_NOT_FOUND, risk_pb2.ITEM_STATUS_INVALID_ARGUMENT


def _publish(scores: VersionedDir, risk: float | None = None, model_version: str = "m1", warnings: list[str] | None = None) -> str:
    risks = [risk if risk is not None else (i % 100) / 100 for i in range(len(IDS))]
    ring_ids = ["ring_1" if i in (1, 2, 3) else None for i in range(len(IDS))]
    return publish_scores(scores, IDS, risks, ring_ids=ring_ids, rings=[RING], explanations=EXPLANATIONS, model_version=model_version,
                          warnings=warnings)


def _code(call: Callable, *args: object, **kwargs: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value.code()


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def scores(tmp_path: Path) -> VersionedDir:
    return VersionedDir(tmp_path / "scores")


@pytest.fixture
def store(scores: VersionedDir, tmp_path: Path) -> ScoreStore:
    _publish(scores)
    store = ScoreStore(scores, cache_root=tmp_path / "cache")
    assert store.refresh()
    return store


def _edge(store: ScoreStore, options: ServerOptions | None = None, poll_interval_s: float = 0.1, **kwargs: object) -> EdgeServer:
    return EdgeServer("127.0.0.1:0", store, BINARY, options or ServerOptions(grace_s=1.0), poll_interval_s=poll_interval_s, **kwargs).start()


@pytest.fixture
def edge(store: ScoreStore) -> Iterator[EdgeServer]:
    server = _edge(store, metrics_address="127.0.0.1:0")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def channel(edge: EdgeServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{edge.port}") as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.Channel) -> risk_pb2_grpc.RiskServiceStub:
    return risk_pb2_grpc.RiskServiceStub(channel)


@pytest.fixture
def client(edge: EdgeServer) -> Iterator[RiskClient]:
    with RiskClient(f"127.0.0.1:{edge.port}", timeout_s=5) as c:
        yield c


# --------------------------------------------------------------------------- every RPC


def test_get_risk_score_matches_the_python_service_byte_for_byte(edge: EdgeServer, stub: risk_pb2_grpc.RiskServiceStub) -> None:
    r = stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="acct_0002"), timeout=5)
    assert r.account_id == "acct_0002" and math.isclose(r.risk, 0.02, rel_tol=1e-6) and r.level == risk_pb2.RISK_LEVEL_LOW
    assert r.ring_id == "ring_1" and list(r.reasons) == ["reason of acct_0002"]
    assert (r.score_set.score_version, r.score_set.model_version, r.score_set.snapshot_version) == ("v1", "m1", "s1")
    method = "/ringwatch.v1.RiskService/GetRiskScore"
    with grpc.insecure_channel(f"127.0.0.1:{edge.port}") as front, grpc.insecure_channel(f"127.0.0.1:{edge.backend.port}") as back:
        for account in ("acct_0002", "acct_0099", "acct_0000"):
            request = risk_pb2.GetRiskScoreRequest(account_id=account).SerializeToString()
            assert front.unary_unary(method)(request, timeout=5) == back.unary_unary(method)(request, timeout=5)


def test_the_edge_carries_the_score_sets_warnings(scores: VersionedDir, store: ScoreStore, edge: EdgeServer,
                                                  stub: risk_pb2_grpc.RiskServiceStub) -> None:
    drift = "31.0% of the accounts are at MEDIUM or above against 9.8% on the training platform"
    metrics = f"http://127.0.0.1:{edge.metrics_port}/metrics"
    assert "ringwatch_score_set_warnings 0" in urllib.request.urlopen(metrics, timeout=5).read().decode().splitlines()
    _publish(scores, warnings=[drift])
    assert store.refresh()
    _wait_for(lambda: stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="acct_0001"), timeout=5).score_set.score_version == "v2",
              "the edge to swap to v2")
    r = stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="acct_0001"), timeout=5)
    assert list(r.score_set.warnings) == [drift]
    batch = stub.BatchGetRiskScores(risk_pb2.BatchGetRiskScoresRequest(account_ids=["acct_0001"]), timeout=5)
    assert list(batch.score_set.warnings) == [drift]
    with grpc.insecure_channel(f"127.0.0.1:{edge.port}") as front, grpc.insecure_channel(f"127.0.0.1:{edge.backend.port}") as back:
        for method, request in (
            ("GetRiskScore", risk_pb2.GetRiskScoreRequest(account_id="acct_0001")),
            ("BatchGetRiskScores", risk_pb2.BatchGetRiskScoresRequest(account_ids=["acct_0001", "nobody", ""], include_ring_ids=True)),
            ("BatchGetRiskScores", risk_pb2.BatchGetRiskScoresRequest(account_ids=["acct_0002"])),
        ):
            path, data = f"/ringwatch.v1.RiskService/{method}", request.SerializeToString()
            assert front.unary_unary(path)(data, timeout=5) == back.unary_unary(path)(data, timeout=5), method
    assert "ringwatch_score_set_warnings 1" in urllib.request.urlopen(metrics, timeout=5).read().decode().splitlines()


def test_batch_get_risk_scores(stub: risk_pb2_grpc.RiskServiceStub, client: RiskClient) -> None:
    ids = ["acct_0010", "nobody", "", "acct_0010", "bad\x00id", "x" * 129, "acct_0002"]
    r = stub.BatchGetRiskScores(risk_pb2.BatchGetRiskScoresRequest(account_ids=ids, include_ring_ids=True), timeout=5)
    assert list(r.statuses) == [OK, NF, BAD, OK, BAD, BAD, OK]
    assert (r.found, r.not_found, r.invalid) == (3, 1, 3)
    assert math.isclose(r.risks[0], 0.10, rel_tol=1e-6) and math.isnan(r.risks[1])
    assert list(r.levels) == [1, 0, 0, 1, 0, 0, 1]
    assert list(r.ring_ids) == ["", "", "", "", "", "", "ring_1"]
    assert r.score_set.score_version == "v1"
    batch = client.batch_get(IDS)  # the full 200, through the typed client's zero-copy decoder
    assert (batch.statuses == OK).all() and batch.ring_ids is None
    assert np.allclose(batch.risks, [(i % 100) / 100 for i in range(200)])


def test_forwarded_rpcs(client: RiskClient) -> None:
    e = client.explain("acct_0001")
    assert e.reasons == ("shares device d1 with 2 accounts",) and e.top_neighbors[0].account_id == "acct_0002"
    assert e.ring is not None and e.ring.ring_id == "ring_1" and e.score_set.score_version == "v1"
    ring = client.get_ring("ring_1")
    assert ring.member_ids == ("acct_0003", "acct_0002", "acct_0001") and ring.ring.size == 3
    assert ring.ring.synchrony == 0.5 and ring.ring.related == (("ring_7", 12),)  # forwarded to the Python backend and back
    assert client.get_ring("ring_1", score_version="v1").member_ids == ring.member_ids
    with pytest.raises(RiskServiceError) as info:  # the pin goes through the edge, and the status comes back
        client.get_ring("ring_1", score_version="v0")
    assert info.value.code == grpc.StatusCode.ABORTED and "answers from v1" in str(info.value)


def test_a_ring_pinned_to_the_edges_set_is_aborted_while_the_backend_is_a_swap_ahead(scores: VersionedDir, store: ScoreStore) -> None:
    # the edge answers lookups from its own copy and forwards GetRing to the backend; an edge that
    # has not yet seen the backend's swap (here: it checks the pointer once an hour) hands out
    # ring ids of the older set, and a pin to that set is refused until it catches up (README)
    edge = _edge(store, poll_interval_s=3600)
    try:
        _publish(scores, model_version="m2")
        assert store.refresh() and store.current is not None and store.current.info.score_version == "v2"
        with RiskClient(f"127.0.0.1:{edge.port}", timeout_s=5) as client:
            looked_up = client.get("acct_0001")
            assert looked_up.score_set.score_version == "v1" and looked_up.ring_id == "ring_1"  # the edge, one swap behind
            with pytest.raises(RiskServiceError) as info:
                client.get_ring(looked_up.ring_id, score_version=looked_up.score_set.score_version)
            assert info.value.code == grpc.StatusCode.ABORTED and "answers from v2" in str(info.value)
            ring = client.get_ring("ring_1", score_version="v2")  # the backend's set
            assert ring.score_set.score_version == "v2" and ring.ring.size == 3
    finally:
        edge.stop()


def test_watch_is_relayed(scores: VersionedDir, store: ScoreStore, stub: risk_pb2_grpc.RiskServiceStub) -> None:
    stream = stub.WatchRiskScores(risk_pb2.WatchRiskScoresRequest(account_ids=["acct_0000", "acct_0050"]), timeout=10)
    got: list[risk_pb2.RiskLevelChange] = []
    reader = threading.Thread(target=lambda: got.extend([next(stream), next(stream)]))
    reader.start()
    time.sleep(0.5)  # let the subscription reach the backend
    _publish(scores, risk=0.95)
    assert store.refresh()
    reader.join(timeout=10)
    stream.cancel()
    by_id = {c.account_id: c for c in got}
    assert sorted(by_id) == ["acct_0000", "acct_0050"]
    assert by_id["acct_0000"].previous_level == risk_pb2.RISK_LEVEL_LOW and by_id["acct_0000"].level == risk_pb2.RISK_LEVEL_CRITICAL
    assert by_id["acct_0000"].score_set.score_version == "v2" and by_id["acct_0000"].previous_score_version == "v1"


# --------------------------------------------------------------------------- error statuses


def test_invalid_argument(stub: risk_pb2_grpc.RiskServiceStub, client: RiskClient) -> None:
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    for bad in ("", "x" * 129, "tab\there", "nul\x00", "zero\u200bwidth"):
        assert _code(stub.GetRiskScore, risk_pb2.GetRiskScoreRequest(account_id=bad), timeout=5) == invalid
    assert _code(stub.BatchGetRiskScores, risk_pb2.BatchGetRiskScoresRequest(), timeout=5) == invalid
    oversize = risk_pb2.BatchGetRiskScoresRequest(account_ids=[f"a{i}" for i in range(10_001)])
    assert _code(stub.BatchGetRiskScores, oversize, timeout=5) == invalid
    explain = risk_pb2.ExplainRiskScoreRequest(account_id="acct_0001", max_neighbors=1000)
    assert _code(stub.ExplainRiskScore, explain, timeout=5) == invalid  # the backend's answer, relayed
    assert _code(stub.GetRing, risk_pb2.GetRingRequest(ring_id=""), timeout=5) == invalid
    with pytest.raises(InputError, match="is malformed: expected 1-128 printable characters"):
        client.get("")


def test_undecodable_request_is_invalid_argument(channel: grpc.Channel) -> None:
    raw = channel.unary_unary("/ringwatch.v1.RiskService/GetRiskScore")
    assert _code(raw, b"\x0a\x02\xff\xfe", timeout=5) == grpc.StatusCode.INVALID_ARGUMENT  # field 1 is not UTF-8


def test_not_found(stub: risk_pb2_grpc.RiskServiceStub, client: RiskClient) -> None:
    nf = grpc.StatusCode.NOT_FOUND
    assert _code(stub.GetRiskScore, risk_pb2.GetRiskScoreRequest(account_id="nobody"), timeout=5) == nf
    assert _code(stub.ExplainRiskScore, risk_pb2.ExplainRiskScoreRequest(account_id="nobody"), timeout=5) == nf
    assert _code(stub.GetRing, risk_pb2.GetRingRequest(ring_id="ring_404"), timeout=5) == nf
    with pytest.raises(NotFoundError, match="account 'nobody' is not in score set v1"):
        client.get("nobody")


def test_message_size_limit(stub: risk_pb2_grpc.RiskServiceStub, channel: grpc.Channel, edge: EdgeServer) -> None:
    huge = risk_pb2.BatchGetRiskScoresRequest(account_ids=["x" * 100_000] * 70)  # ~7 MB > 6 MiB
    assert _code(stub.BatchGetRiskScores, huge, timeout=5) == grpc.StatusCode.RESOURCE_EXHAUSTED
    widest = ["".join(chr(0x1F600 + (i >> 4 * k & 15)) for k in range(4)) + "\U0001F600" * 124  # the largest
              for i in range(MAX_BATCH)]  # valid batch: 128 four-byte characters each, 5.15 MB
    answer = stub.BatchGetRiskScores(risk_pb2.BatchGetRiskScoresRequest(account_ids=widest), timeout=30)
    assert answer.not_found == MAX_BATCH and answer.invalid == 0
    for method in ("GetRiskScore", "BatchGetRiskScores", "ExplainRiskScore", "GetRing"):  # bytes that do not parse
        call = channel.unary_unary(f"/ringwatch.v1.RiskService/{method}")
        assert _code(call, b"\xff\xff\xff", timeout=5) == grpc.StatusCode.INVALID_ARGUMENT, method
    watch = channel.unary_stream("/ringwatch.v1.RiskService/WatchRiskScores")
    assert _code(list, watch(b"\xff\xff\xff", timeout=5)) == grpc.StatusCode.INVALID_ARGUMENT
    assert _code(stub.BatchGetRiskScores, risk_pb2.BatchGetRiskScoresRequest(account_ids=["a"] * (MAX_BATCH + 1)),
                 timeout=5) == grpc.StatusCode.INVALID_ARGUMENT
    text = urllib.request.urlopen(f"http://127.0.0.1:{edge.metrics_port}/metrics", timeout=5).read().decode().splitlines()
    for method in ("GetRiskScore", "BatchGetRiskScores", "ExplainRiskScore", "GetRing", "WatchRiskScores"):
        assert any(line.startswith(f'ringwatch_grpc_requests_total{{method="{method}",code="INVALID_ARGUMENT"}}')
                   for line in text), method  # counted, as the Python service counts them
    assert f"ringwatch_grpc_batch_items_total {2 * MAX_BATCH + 1}" in text  # refused batches' ids too


def test_deadlines(stub: risk_pb2_grpc.RiskServiceStub, client: RiskClient) -> None:
    started = time.monotonic()
    stream = stub.WatchRiskScores(risk_pb2.WatchRiskScoresRequest(), timeout=0.3)  # forwarded: the deadline travels
    assert _code(list, stream) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 3
    with pytest.raises(RiskServiceError) as info:
        list(client.watch(timeout_s=0.2))
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_unavailable_until_loaded_then_serving(scores: VersionedDir, tmp_path: Path) -> None:
    store = ScoreStore(scores, cache_root=tmp_path / "cache")  # nothing published yet
    server = _edge(store)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            for service in ("", "ringwatch.v1.RiskService"):
                assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING
            stub = risk_pb2_grpc.RiskServiceStub(ch)
            assert _code(stub.GetRiskScore, risk_pb2.GetRiskScoreRequest(account_id="acct_0001"), timeout=5) == grpc.StatusCode.UNAVAILABLE
            assert _code(stub.BatchGetRiskScores, risk_pb2.BatchGetRiskScoresRequest(account_ids=["a"]), timeout=5) == grpc.StatusCode.UNAVAILABLE
            _publish(scores)
            assert store.refresh()
            _wait_for(lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING,
                      "health to turn SERVING")
            assert stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="acct_0001"), timeout=5).account_id == "acct_0001"
    finally:
        server.stop()


# --------------------------------------------------------------------------- hot swap, refusal


def test_hot_swap_under_load_has_zero_failures(scores: VersionedDir, store: ScoreStore, edge: EdgeServer) -> None:
    def swaps(answers: dict[str, int]) -> None:
        for k in range(2, 6):
            time.sleep(0.3)
            assert _publish(scores, risk=k / 10) == f"v{k}"
            assert store.refresh()
        _wait_for(lambda: "v5" in answers, "the edge to serve v5")
        time.sleep(0.2)

    answers, failures = calls_during(f"127.0.0.1:{edge.port}", IDS, swaps)
    assert not failures, failures[:3]
    assert {"v1", "v5"} <= set(answers) and sum(answers.values()) > 50


def test_corrupt_version_refused_old_keeps_serving(scores: VersionedDir, store: ScoreStore, client: RiskClient) -> None:
    v2 = _publish(scores, risk=0.5)
    corrupt(scores, v2)
    assert store.refresh() is False and "checksum" in (store.last_error or "")  # never announced to the edge
    time.sleep(0.3)
    r = client.get("acct_0001")
    assert r.score_set.score_version == "v1" and math.isclose(r.risk, 0.01, rel_tol=1e-6)


def test_edge_refuses_a_broken_cache_and_keeps_serving(scores: VersionedDir, store: ScoreStore, edge: EdgeServer,
                                                       client: RiskClient, tmp_path: Path) -> None:
    pointer = tmp_path / "cache" / POINTER_FILE
    assert store.current is not None and store.current.cache_dir is not None and pointer.is_file()
    broken = tmp_path / "broken"
    shutil.copytree(store.current.cache_dir, broken)
    risk = broken / "risk.npy"
    risk.write_bytes(risk.read_bytes()[:-8])  # truncated: the header promises more rows
    pointer.write_text(json.dumps({"cache_dir": str(broken), "score_version": "v9", "model_version": "m9",
                                              "snapshot_version": "s9", "scored_at": None, "accounts": len(IDS)}))
    time.sleep(0.5)  # several polls
    assert edge.alive()
    assert client.get("acct_0001").score_set.score_version == "v1"
    _publish(scores, risk=0.5, model_version="m2")  # the next good set is taken as usual
    assert store.refresh()
    _wait_for(lambda: client.get("acct_0001").score_set.model_version == "m2", "the edge to load v2")


def test_a_set_whose_files_are_not_there_yet_is_retried(scores: VersionedDir, store: ScoreStore, edge: EdgeServer,
                                                        client: RiskClient, tmp_path: Path) -> None:
    pointer = tmp_path / "cache" / POINTER_FILE
    assert store.current is not None and store.current.cache_dir is not None
    later = tmp_path / "later"  # a mount that is not there yet: an operating-system error, not a bad set
    pointer.write_text(json.dumps({"cache_dir": str(later), "score_version": "v9", "model_version": "m9",
                                   "snapshot_version": "s9", "scored_at": None, "accounts": len(IDS)}))
    time.sleep(0.5)  # several polls, each failing
    assert client.get("acct_0001").score_set.score_version == "v1"
    shutil.copytree(store.current.cache_dir, later)
    _wait_for(lambda: client.get("acct_0001").score_set.model_version == "m9", "the edge to retry the set")


# --------------------------------------------------------------------------- auth, TLS


@pytest.fixture
def token_edge(store: ScoreStore) -> Iterator[EdgeServer]:
    server = _edge(store, ServerOptions(token="s3cret", grace_s=1.0))
    try:
        yield server
    finally:
        server.stop()


def test_token_accepted(token_edge: EdgeServer) -> None:
    with RiskClient(f"127.0.0.1:{token_edge.port}", token="s3cret") as c:
        assert c.get("acct_0001").level == "LOW"
        assert len(c.batch_get(["acct_0001", "acct_0002"])) == 2
        assert c.explain("acct_0001").account_id == "acct_0001"  # the token travels to the backend too


@pytest.mark.parametrize("metadata", [None, bearer_metadata("wrong"), (("authorization", "s3cret"),)])
def test_token_refused(token_edge: EdgeServer, metadata: tuple | None) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{token_edge.port}") as ch:
        stub = risk_pb2_grpc.RiskServiceStub(ch)
        unauthenticated = grpc.StatusCode.UNAUTHENTICATED
        assert _code(stub.GetRiskScore, risk_pb2.GetRiskScoreRequest(account_id="acct_0001"), timeout=5, metadata=metadata) == unauthenticated
        assert _code(stub.ExplainRiskScore, risk_pb2.ExplainRiskScoreRequest(account_id="acct_0001"), timeout=5, metadata=metadata) == unauthenticated
        assert _code(list, stub.WatchRiskScores(risk_pb2.WatchRiskScoresRequest(), timeout=5, metadata=metadata)) == unauthenticated
        # bytes that do not parse: the token is checked first, as the Python service does
        assert _code(ch.unary_unary("/ringwatch.v1.RiskService/GetRiskScore"), b"\xff\xff\xff", timeout=5,
                     metadata=metadata) == unauthenticated
        status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING  # health stays open for probes


def test_tls_accepted_and_refused(store: ScoreStore, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "server")
    server = _edge(store, ServerOptions(tls_cert=cert, tls_key=key, grace_s=1.0))
    try:
        with RiskClient(f"127.0.0.1:{server.port}", root_cert=cert, timeout_s=5) as c:
            assert c.get("acct_0099").level == "CRITICAL"
            assert c.get_ring("ring_1").ring.size == 3
        other, _ = self_signed(tmp_path, "other")
        for root in (None, other):  # plaintext, and an untrusted root
            with RiskClient(f"127.0.0.1:{server.port}", root_cert=root, timeout_s=2, max_attempts=1) as c:
                with pytest.raises(RiskServiceError) as info:
                    c.get("acct_0099")
                assert info.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


# --------------------------------------------------------------------------- health, reflection, metrics, lifecycle


def test_graceful_shutdown_reports_not_serving(store: ScoreStore) -> None:
    server = _edge(store)
    seen: list[int] = []
    ch = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(), timeout=10)

        def read() -> None:
            try:
                seen.extend(r.status for r in watch)
            except grpc.RpcError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        _wait_for(lambda: bool(seen), "the first health status")
        server.stop(grace_s=1.0)
        reader.join(timeout=10)
    finally:
        server.stop()
        ch.close()
    assert seen[0] == health_pb2.HealthCheckResponse.SERVING
    assert health_pb2.HealthCheckResponse.NOT_SERVING in seen
    assert server.process is not None and server.process.returncode == 0


def test_reflection_lists_the_service(channel: grpc.Channel) -> None:
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    db = ProtoReflectionDescriptorDatabase(channel)
    assert {"ringwatch.v1.RiskService", "grpc.health.v1.Health"} <= set(db.get_services())
    methods = {m.name for m in db.FindFileContainingSymbol("ringwatch.v1.RiskService").service[0].method}
    assert methods == {"GetRiskScore", "BatchGetRiskScores", "ExplainRiskScore", "GetRing", "WatchRiskScores"}


def test_metrics(edge: EdgeServer, client: RiskClient) -> None:
    client.get("acct_0001")
    with pytest.raises(NotFoundError):
        client.get("nobody")
    client.batch_get(IDS[:10])
    client.explain("acct_0001")
    text = urllib.request.urlopen(f"http://127.0.0.1:{edge.metrics_port}/metrics", timeout=5).read().decode()
    for line in (
        'ringwatch_grpc_requests_total{method="GetRiskScore",code="OK"} 1',
        'ringwatch_grpc_requests_total{method="GetRiskScore",code="NOT_FOUND"} 1',
        'ringwatch_grpc_requests_total{method="ExplainRiskScore",code="OK"} 1',
        'ringwatch_grpc_request_seconds_count{method="BatchGetRiskScores"} 1',
        "ringwatch_grpc_batch_items_total 10",
        'ringwatch_score_set_info{score_version="v1",model_version="m1",snapshot_version="s1"} 1',
        f"ringwatch_score_set_accounts {len(IDS)}",
    ):
        assert line in text.splitlines(), line
    age = next(float(x.split()[1]) for x in text.splitlines() if x.startswith("ringwatch_score_set_age_seconds "))
    assert age > 0


def test_missing_binary_says_how_to_build(store: ScoreStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="scripts/bootstrap"):
        EdgeServer("127.0.0.1:0", store, tmp_path / "ringwatch-edge")


def test_serve_edge_in_the_background(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", grpc_port=0, grpc_token=None)
    _publish(Home(settings.home).scores)
    port = start_background(settings, 0, edge=True, timeout_s=60)
    try:
        state = background_status(settings)
        assert state is not None and state["edge"] is True and state["port"] == port
        with RiskClient(f"127.0.0.1:{port}") as c:
            assert c.get("acct_0001").score_set.score_version == "v1"
            assert c.explain("acct_0001").account_id == "acct_0001"
    finally:
        assert stop_background(settings) is True  # SIGTERM: the edge drains, then the backend stops
    assert background_status(settings) is None


# --------------------------------------------------------------------------- the load client


def _requests_file(path: Path, ids: list[str]) -> Path:
    """Length-delimited GetRiskScoreRequests, as ``ringwatch-load -requests`` reads them."""
    with path.open("wb") as fh:
        for account in ids:
            raw = risk_pb2.GetRiskScoreRequest(account_id=account).SerializeToString()
            assert len(raw) < 0x80  # one-byte varint length
            fh.write(bytes([len(raw)]) + raw)
    return path


def _load(edge: EdgeServer, requests: Path, *args: str) -> dict:
    load = BINARY.parent / "ringwatch-load"
    out = subprocess.run([str(load), "-target", f"127.0.0.1:{edge.port}", "-method", "get", "-requests", str(requests),
                          "-connections", "2", *args], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_load_client_open_loop_sends_every_scheduled_call(edge: EdgeServer, tmp_path: Path) -> None:
    r = _load(edge, _requests_file(tmp_path / "get.bin", IDS[:50]), "-rps", "400", "-duration", "1s")
    assert (r["offered_rps"], r["calls"], r["errors"], r["concurrency"]) == (400, 400, 0, 0)
    assert 0 < r["sent_p50_ms"] <= r["p50_ms"] and 0 < r["sent_p99_ms"] <= r["p99_ms"] <= r["max_ms"]


def test_load_client_counts_failed_calls(edge: EdgeServer, tmp_path: Path) -> None:
    r = _load(edge, _requests_file(tmp_path / "unknown.bin", ["nobody"]), "-c", "2", "-duration", "0.3s")
    assert r["calls"] == 0 and r["errors"] > 0
    r = _load(edge, _requests_file(tmp_path / "mixed.bin", ["acct_0001", "nobody"]), "-rps", "100", "-duration", "1s")
    assert (r["calls"], r["errors"]) == (50, 50)
