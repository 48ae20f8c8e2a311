"""The risk service against a real server on 127.0.0.1 port 0, over real channels."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ringwatch.errors import InputError, NotFoundError
from ringwatch.v1 import risk_pb2, risk_pb2_grpc
from ringwatch.versions import VersionedDir
from services.grpc_server import ServerOptions, ServerThread
from services.metrics import ServiceMetrics
from services.risk_client import RiskClient, RiskServiceError
from services.risk_service import MAX_BATCH
from services.score_store import ScoreStore
from tests.services.score_sets import corrupt, publish_scores
from tests.services.swap_load import calls_during

pytestmark = pytest.mark.integration

IDS = [f"acct_{i:04d}" for i in range(200)]
RING = {"ring_id": "ring_1", "size": 3, "density": 0.67, "synchrony": 0.5, "mean_risk": 0.8, "ring_score": 0.9,
        "members": ["acct_0001", "acct_0002", "acct_0003"], "related": ["ring_7", "ring_2"], "related_links": [12, 2]}


def _publish(scores: VersionedDir, risk: float | None = None, **kw: object) -> str:
    risks = [risk if risk is not None else (i % 100) / 100 for i in range(len(IDS))]
    ring_ids = ["ring_1" if i in (1, 2, 3) else None for i in range(len(IDS))]
    explanations = [{"account_id": "acct_0001", "reasons": '["shares device d1 with 2 accounts", "lockstep likes"]',
                     "top_neighbors": '[{"account_id": "acct_0002", "relation": "shared_device", "weight": 0.7},'
                                      ' {"account_id": "ghost", "relation": "coaction", "weight": 0.1}]'}]
    return publish_scores(scores, IDS, risks, ring_ids=ring_ids, rings=[RING], explanations=explanations, **kw)


@pytest.fixture
def scores(tmp_path: Path) -> VersionedDir:
    return VersionedDir(tmp_path / "scores")


@pytest.fixture
def store(scores: VersionedDir) -> ScoreStore:
    _publish(scores)
    store = ScoreStore(scores)
    assert store.refresh()
    return store


def _serve(store: ScoreStore, **options: object) -> ServerThread:
    return ServerThread("127.0.0.1:0", store, ServerOptions(**options)).start()


@pytest.fixture
def server(store: ScoreStore) -> Iterator[ServerThread]:
    srv = _serve(store)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def channel(server: ServerThread) -> Iterator[grpc.Channel]:
    ch = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield ch
    finally:
        ch.close()


@pytest.fixture
def stub(channel: grpc.Channel) -> risk_pb2_grpc.RiskServiceStub:
    return risk_pb2_grpc.RiskServiceStub(channel)


@pytest.fixture
def client(server: ServerThread) -> Iterator[RiskClient]:
    with RiskClient(f"127.0.0.1:{server.port}", timeout_s=5) as c:
        yield c


def _code(fn, *args, **kw) -> grpc.StatusCode:  # noqa: ANN001
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, **kw)
    return info.value.code()


# --------------------------------------------------------------------------- every RPC


def test_get_risk_score(stub: risk_pb2_grpc.RiskServiceStub) -> None:
    r = stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="acct_0099"), timeout=5)
    assert r.account_id == "acct_0099" and math.isclose(r.risk, 0.99, rel_tol=1e-6)
    assert r.level == risk_pb2.RISK_LEVEL_CRITICAL and r.ring_id == "" and list(r.reasons) == ["reason of acct_0099"]
    assert (r.score_set.score_version, r.score_set.model_version, r.score_set.snapshot_version) == ("v1", "m1", "s1")
    assert r.score_set.scored_at.ToDatetime(tzinfo=dt.timezone.utc) == dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="acct_0002"), timeout=5).ring_id == "ring_1"


DRIFT = ("31.0% of the accounts are at MEDIUM or above against 9.8% on the training platform: "
         "the population has moved since model m1 was trained")


def test_every_answer_carries_the_score_sets_warnings(scores: VersionedDir, store: ScoreStore, stub: risk_pb2_grpc.RiskServiceStub,
                                                      client: RiskClient) -> None:
    assert list(stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="acct_0001"), timeout=5).score_set.warnings) == []
    assert client.get("acct_0001").score_set.warnings == ()  # a manifest from before warnings were written
    _publish(scores, warnings=[DRIFT, "second"])
    assert store.refresh()
    r = stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="acct_0001"), timeout=5)
    assert r.score_set.score_version == "v2" and list(r.score_set.warnings) == [DRIFT, "second"]
    batch = stub.BatchGetRiskScores(risk_pb2.BatchGetRiskScoresRequest(account_ids=["acct_0001", "nobody"]), timeout=5)
    assert list(batch.score_set.warnings) == [DRIFT, "second"]
    assert client.batch_get(["acct_0001", "nobody"], include_ring_ids=True).score_set.warnings == (DRIFT, "second")
    assert list(stub.GetRing(risk_pb2.GetRingRequest(ring_id="ring_1"), timeout=5).score_set.warnings) == [DRIFT, "second"]
    assert client.explain("acct_0001").score_set.warnings == (DRIFT, "second")
    _publish(scores, warnings=[])
    assert store.refresh()
    assert client.get("acct_0001").score_set == client.get("acct_0002").score_set
    assert client.get("acct_0001").score_set.warnings == ()


def test_batch_get_risk_scores(stub: risk_pb2_grpc.RiskServiceStub, client: RiskClient) -> None:
    ids = ["acct_0010", "nobody", "", "acct_0010", "bad\x00id", "x" * 129, "acct_0002"]
    r = stub.BatchGetRiskScores(risk_pb2.BatchGetRiskScoresRequest(account_ids=ids, include_ring_ids=True), timeout=5)
    ok, nf, bad = risk_pb2.ITEM_STATUS_OK, risk_pb2.ITEM_STATUS_NOT_FOUND, risk_pb2.ITEM_STATUS_INVALID_ARGUMENT
    assert list(r.statuses) == [ok, nf, bad, ok, bad, bad, ok]
    assert (r.found, r.not_found, r.invalid) == (3, 1, 3)
    assert math.isclose(r.risks[0], 0.10, rel_tol=1e-6) and math.isnan(r.risks[1])
    assert list(r.levels) == [1, 0, 0, 1, 0, 0, 1]
    assert list(r.ring_ids) == ["", "", "", "", "", "", "ring_1"]
    assert r.score_set.score_version == "v1"
    batch = client.batch_get(IDS)  # the full 200, through the typed client
    assert (batch.statuses == ok).all() and batch.ring_ids is None
    assert np.allclose(batch.risks, [(i % 100) / 100 for i in range(200)])
    assert client.batch_get(["acct_0001", "zz"]).as_dict()["zz"] is None


def test_explain_risk_score(client: RiskClient) -> None:
    e = client.explain("acct_0001")
    assert e.reasons == ("shares device d1 with 2 accounts", "lockstep likes")
    assert [n.account_id for n in e.top_neighbors] == ["acct_0002", "ghost"]
    assert e.top_neighbors[0].relation == "shared_device" and math.isclose(e.top_neighbors[0].risk, 0.02, rel_tol=1e-6)
    assert math.isnan(e.top_neighbors[1].risk) and e.top_neighbors[1].level == "UNSPECIFIED"
    assert e.ring is not None and e.ring.ring_id == "ring_1" and e.ring.size == 3
    assert e.ring.related == (("ring_7", 12), ("ring_2", 2)) and e.ring.related[0].links == 12
    assert client.explain("acct_0001", max_neighbors=1).top_neighbors[0].account_id == "acct_0002"
    fallback = client.explain("acct_0050")  # no explanation row: the score's reasons, no neighbours
    assert fallback.reasons == ("reason of acct_0050",) and fallback.top_neighbors == () and fallback.ring is None


def test_get_ring(client: RiskClient) -> None:
    ring = client.get_ring("ring_1")
    assert ring.member_ids == ("acct_0003", "acct_0002", "acct_0001")  # riskiest first
    assert ring.member_levels == ("LOW", "LOW", "LOW") and ring.ring.density == pytest.approx(0.67)
    assert ring.ring.synchrony == 0.5
    assert ring.ring.related == (("ring_7", 12), ("ring_2", 2))  # most links first
    assert ring.score_set.score_version == "v1"
    assert client.get_ring("ring_1", max_members=1).member_ids == ("acct_0003",)


def test_get_ring_pinned_to_a_score_set_the_service_no_longer_serves(scores: VersionedDir, store: ScoreStore,
                                                                      stub: risk_pb2_grpc.RiskServiceStub,
                                                                      client: RiskClient) -> None:
    named_in = client.get("acct_0001").score_set.score_version
    assert client.get_ring("ring_1", score_version=named_in).member_ids == ("acct_0003", "acct_0002", "acct_0001")
    _publish(scores)  # a new scoring run: v2 numbers its rings afresh
    assert store.refresh()
    with pytest.raises(RiskServiceError) as info:
        client.get_ring("ring_1", score_version=named_in)
    assert info.value.code == grpc.StatusCode.ABORTED
    assert "'v1'" in str(info.value) and "answers from v2" in str(info.value) and "GetRiskScore" in str(info.value)
    assert client.get_ring("ring_1", score_version="v2").score_set.score_version == "v2"
    assert client.get_ring("ring_1").score_set.score_version == "v2"  # unpinned: the current set
    with pytest.raises(grpc.RpcError) as raw:
        stub.GetRing(risk_pb2.GetRingRequest(ring_id="ring_1", score_version="x" * 500), timeout=5)
    assert raw.value.code() == grpc.StatusCode.ABORTED and "x" * 40 + "..." in raw.value.details() and "x" * 41 not in raw.value.details()


def test_a_ring_from_before_synchrony_and_related_rings_reads_nan_and_none(scores: VersionedDir) -> None:
    risks = [(i % 100) / 100 for i in range(len(IDS))]
    old = {k: v for k, v in RING.items() if k not in ("synchrony", "related", "related_links")}  # a rings table from before them
    publish_scores(scores, IDS, risks, ring_ids=["ring_1" if i in (1, 2, 3) else None for i in range(len(IDS))], rings=[old])
    store = ScoreStore(scores)
    assert store.refresh()
    srv = _serve(store)
    try:
        with RiskClient(f"127.0.0.1:{srv.port}", timeout_s=5) as c:
            ring = c.get_ring("ring_1").ring
            assert math.isnan(ring.synchrony) and ring.density == pytest.approx(0.67) and ring.related == ()
    finally:
        srv.stop()


def test_watch_streams_level_changes(scores: VersionedDir, store: ScoreStore, stub: risk_pb2_grpc.RiskServiceStub) -> None:
    stream = stub.WatchRiskScores(
        risk_pb2.WatchRiskScoresRequest(account_ids=["acct_0000", "acct_0050"], min_level=risk_pb2.RISK_LEVEL_LOW), timeout=10
    )
    got: list[risk_pb2.RiskLevelChange] = []
    reader = threading.Thread(target=lambda: got.extend([next(stream), next(stream)]))
    reader.start()
    time.sleep(0.3)  # let the subscription register
    _publish(scores, risk=0.95)
    assert store.refresh()
    reader.join(timeout=10)
    stream.cancel()
    assert sorted(c.account_id for c in got) == ["acct_0000", "acct_0050"]
    by_id = {c.account_id: c for c in got}
    assert by_id["acct_0000"].previous_level == risk_pb2.RISK_LEVEL_LOW and by_id["acct_0000"].level == risk_pb2.RISK_LEVEL_CRITICAL
    assert by_id["acct_0050"].previous_level == risk_pb2.RISK_LEVEL_HIGH
    assert by_id["acct_0000"].score_set.score_version == "v2" and by_id["acct_0000"].previous_score_version == "v1"


# --------------------------------------------------------------------------- error statuses


def test_invalid_argument(stub: risk_pb2_grpc.RiskServiceStub, client: RiskClient) -> None:
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    for bad in ("", "x" * 129, "tab\there", "nul\x00"):
        assert _code(stub.GetRiskScore, risk_pb2.GetRiskScoreRequest(account_id=bad), timeout=5) == invalid
    assert _code(stub.BatchGetRiskScores, risk_pb2.BatchGetRiskScoresRequest(), timeout=5) == invalid
    oversize = risk_pb2.BatchGetRiskScoresRequest(account_ids=[f"a{i}" for i in range(MAX_BATCH + 1)])
    assert _code(stub.BatchGetRiskScores, oversize, timeout=5) == invalid
    assert _code(stub.ExplainRiskScore, risk_pb2.ExplainRiskScoreRequest(account_id="acct_0001", max_neighbors=1000), timeout=5) == invalid
    assert _code(stub.GetRing, risk_pb2.GetRingRequest(ring_id=""), timeout=5) == invalid
    with pytest.raises(InputError):
        client.get("")


def test_not_found(stub: risk_pb2_grpc.RiskServiceStub, client: RiskClient) -> None:
    nf = grpc.StatusCode.NOT_FOUND
    assert _code(stub.GetRiskScore, risk_pb2.GetRiskScoreRequest(account_id="nobody"), timeout=5) == nf
    assert _code(stub.ExplainRiskScore, risk_pb2.ExplainRiskScoreRequest(account_id="nobody"), timeout=5) == nf
    assert _code(stub.GetRing, risk_pb2.GetRingRequest(ring_id="ring_404"), timeout=5) == nf
    with pytest.raises(NotFoundError):
        client.get("nobody")


def test_an_empty_score_set_answers_every_item(scores: VersionedDir) -> None:
    publish_scores(scores, [], [])
    store = ScoreStore(scores)
    assert store.refresh()
    srv = _serve(store)
    try:
        with RiskClient(f"127.0.0.1:{srv.port}") as c:
            batch = c.batch_get(["a1", "bad\x01id"])
            assert list(batch.statuses) == [risk_pb2.ITEM_STATUS_NOT_FOUND, risk_pb2.ITEM_STATUS_INVALID_ARGUMENT]
            assert np.isnan(batch.risks).all()
            with pytest.raises(NotFoundError):
                c.get("a1")
    finally:
        srv.stop()


def test_get_ring_without_rings_table(scores: VersionedDir) -> None:
    publish_scores(scores, ["a", "b"], [0.1, 0.2], ring_ids=["r1", None])
    store = ScoreStore(scores)
    store.refresh()
    srv = _serve(store)
    try:
        with RiskClient(f"127.0.0.1:{srv.port}") as c:
            with pytest.raises(NotFoundError):
                c.get_ring("r1")
            assert c.explain("a").ring.ring_id == "r1"  # named, without statistics
    finally:
        srv.stop()


def test_unavailable_until_loaded_then_serving(scores: VersionedDir) -> None:
    store = ScoreStore(scores)  # nothing published
    srv = _serve(store)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            for service in ("", "ringwatch.v1.RiskService"):
                status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
                assert status == health_pb2.HealthCheckResponse.NOT_SERVING
            stub = risk_pb2_grpc.RiskServiceStub(ch)
            assert _code(stub.GetRiskScore, risk_pb2.GetRiskScoreRequest(account_id="a"), timeout=5) == grpc.StatusCode.UNAVAILABLE
            with RiskClient(f"127.0.0.1:{srv.port}", max_attempts=1) as c:
                with pytest.raises(RiskServiceError) as info:
                    c.get("a")
                assert info.value.code == grpc.StatusCode.UNAVAILABLE
            _publish(scores)
            store.refresh()
            deadline = time.monotonic() + 5
            while health.Check(health_pb2.HealthCheckRequest(), timeout=5).status != health_pb2.HealthCheckResponse.SERVING:
                assert time.monotonic() < deadline, "health never turned SERVING"
                time.sleep(0.02)
            assert stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="acct_0001"), timeout=5).account_id == "acct_0001"
    finally:
        srv.stop()


def test_undecodable_bytes_are_invalid_argument_before_scores_load(scores: VersionedDir) -> None:
    srv = _serve(ScoreStore(scores))  # nothing published: every well-formed lookup is UNAVAILABLE
    try:
        with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
            call = ch.unary_unary("/ringwatch.v1.RiskService/BatchGetRiskScores")
            assert _code(call, b"\xff\xff\xff", timeout=5) == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        srv.stop()


def test_client_retries_unavailable_until_scores_load(scores: VersionedDir) -> None:
    store = ScoreStore(scores)
    srv = _serve(store)
    try:
        _publish(scores)
        threading.Timer(0.2, store.refresh).start()
        with RiskClient(f"127.0.0.1:{srv.port}", timeout_s=10, max_attempts=5) as c:
            assert c.get("acct_0001").account_id == "acct_0001"  # UNAVAILABLE at first, retried
    finally:
        srv.stop()


def test_message_size_limit(server: ServerThread) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        stub = risk_pb2_grpc.RiskServiceStub(ch)
        huge = risk_pb2.BatchGetRiskScoresRequest(account_ids=["x" * 100_000] * 70)  # ~7 MB > 6 MiB
        assert _code(stub.BatchGetRiskScores, huge, timeout=5) == grpc.StatusCode.RESOURCE_EXHAUSTED
        # the largest valid batch fits: 10,000 ids of 128 four-byte characters (5.15 MB)
        widest = ["".join(chr(0x1F600 + (i >> 4 * k & 15)) for k in range(4)) + "\U0001F600" * 124 for i in range(MAX_BATCH)]
        answer = stub.BatchGetRiskScores(risk_pb2.BatchGetRiskScoresRequest(account_ids=widest), timeout=30)
        assert answer.not_found == MAX_BATCH and answer.invalid == 0


def test_deadlines(stub: risk_pb2_grpc.RiskServiceStub, client: RiskClient) -> None:
    started = time.monotonic()
    stream = stub.WatchRiskScores(risk_pb2.WatchRiskScoresRequest(), timeout=0.3)
    assert _code(list, stream) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 3
    with pytest.raises(RiskServiceError) as info:
        list(client.watch(timeout_s=0.2))
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


# --------------------------------------------------------------------------- hot swap


def test_hot_swap_under_load_has_zero_failures(scores: VersionedDir, store: ScoreStore, server: ServerThread) -> None:
    def swaps(answers: dict[str, int]) -> None:
        for k in range(2, 6):
            time.sleep(0.25)
            assert _publish(scores, risk=k / 10) == f"v{k}"
            assert store.refresh()
        time.sleep(0.25)

    answers, failures = calls_during(f"127.0.0.1:{server.port}", IDS, swaps)
    assert not failures, failures[:3]
    assert {"v1", "v5"} <= set(answers) and sum(answers.values()) > 50


def test_corrupt_version_refused_old_keeps_serving(scores: VersionedDir, store: ScoreStore, client: RiskClient, server: ServerThread) -> None:
    v2 = _publish(scores, risk=0.5)
    corrupt(scores, v2)
    assert store.refresh() is False and "checksum" in (store.last_error or "")
    r = client.get("acct_0001")
    assert r.score_set.score_version == "v1" and math.isclose(r.risk, 0.01, rel_tol=1e-6)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5).status
    assert status == health_pb2.HealthCheckResponse.SERVING


# --------------------------------------------------------------------------- health, reflection, metrics


def test_graceful_shutdown_reports_not_serving(store: ScoreStore) -> None:
    srv = _serve(store)
    seen: list[int] = []
    ch = grpc.insecure_channel(f"127.0.0.1:{srv.port}")
    try:
        watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(), timeout=10)
        reader = threading.Thread(target=lambda: [seen.append(r.status) for r in _until_error(watch)])
        reader.start()
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        srv.stop(grace_s=1.0)
        reader.join(timeout=10)
    finally:
        srv.stop()
        ch.close()
    assert seen[0] == health_pb2.HealthCheckResponse.SERVING
    assert health_pb2.HealthCheckResponse.NOT_SERVING in seen


def _until_error(stream: Iterator) -> Iterator:  # noqa: ANN001
    try:
        yield from stream
    except grpc.RpcError:
        return


def test_reflection_lists_the_service(channel: grpc.Channel) -> None:
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    db = ProtoReflectionDescriptorDatabase(channel)
    services = set(db.get_services())
    assert {"ringwatch.v1.RiskService", "grpc.health.v1.Health"} <= services
    methods = {m.name for m in db.FindFileContainingSymbol("ringwatch.v1.RiskService").service[0].method}
    assert methods == {"GetRiskScore", "BatchGetRiskScores", "ExplainRiskScore", "GetRing", "WatchRiskScores"}


def test_metrics_count_requests(store: ScoreStore) -> None:
    metrics = ServiceMetrics(store)
    srv = ServerThread("127.0.0.1:0", store, metrics=metrics).start()
    try:
        with RiskClient(f"127.0.0.1:{srv.port}") as c:
            c.get("acct_0001")
            with pytest.raises(NotFoundError):
                c.get("nobody")
            c.batch_get(IDS[:10])
    finally:
        srv.stop()
    sample = metrics.registry.get_sample_value
    assert sample("ringwatch_grpc_requests_total", {"method": "GetRiskScore", "code": "OK"}) == 1
    assert sample("ringwatch_grpc_requests_total", {"method": "GetRiskScore", "code": "NOT_FOUND"}) == 1
    assert sample("ringwatch_grpc_batch_items_total") == 10
    assert sample("ringwatch_grpc_request_seconds_count", {"method": "BatchGetRiskScores"}) == 1
    assert sample("ringwatch_score_set_info", {"score_version": "v1", "model_version": "m1", "snapshot_version": "s1"}) == 1
    assert sample("ringwatch_score_set_accounts") == len(IDS) and sample("ringwatch_score_set_age_seconds") > 0
    assert sample("ringwatch_score_set_warnings") == 0
    _publish(store.scores, warnings=[DRIFT])
    assert store.refresh()
    assert sample("ringwatch_score_set_warnings") == 1


def test_undecodable_requests_are_invalid_argument_and_counted(store: ScoreStore) -> None:
    metrics = ServiceMetrics(store)
    srv = ServerThread("127.0.0.1:0", store, metrics=metrics).start()
    methods = ("GetRiskScore", "BatchGetRiskScores", "ExplainRiskScore", "GetRing")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
            for method in methods:  # no serializers: the bytes go out as they are
                assert _code(ch.unary_unary(f"/ringwatch.v1.RiskService/{method}"), b"\xff\xff\xff", timeout=5) \
                    == grpc.StatusCode.INVALID_ARGUMENT
            watch = ch.unary_stream("/ringwatch.v1.RiskService/WatchRiskScores")
            assert _code(list, watch(b"\xff\xff\xff", timeout=5)) == grpc.StatusCode.INVALID_ARGUMENT
            stub = risk_pb2_grpc.RiskServiceStub(ch)
            with pytest.raises(grpc.RpcError) as info:  # no such level: no stream that can never match
                list(stub.WatchRiskScores(risk_pb2.WatchRiskScoresRequest(min_level=99), timeout=5))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "RISK_LEVEL_CRITICAL" in info.value.details()
            assert _code(list, stub.WatchRiskScores(risk_pb2.WatchRiskScoresRequest(), timeout=0.3)) \
                == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        srv.stop()
    sample = metrics.registry.get_sample_value
    for method in methods:
        assert sample("ringwatch_grpc_requests_total", {"method": method, "code": "INVALID_ARGUMENT"}) == 1
    assert sample("ringwatch_grpc_requests_total", {"method": "WatchRiskScores", "code": "INVALID_ARGUMENT"}) == 2
    # a stream that ends at its deadline (the way a watch ends) is counted as that, not as a cancel
    assert sample("ringwatch_grpc_requests_total", {"method": "WatchRiskScores", "code": "DEADLINE_EXCEEDED"}) == 1
    assert sample("ringwatch_grpc_requests_total", {"method": "WatchRiskScores", "code": "CANCELLED"}) is None


def test_the_client_refuses_ids_that_are_no_text_and_marks_them_in_a_batch(client: RiskClient) -> None:
    lone_surrogate = "\ud800"
    with pytest.raises(InputError, match="UTF-8"):
        client.get(lone_surrogate)
    with pytest.raises(InputError, match="UTF-8"):
        client.explain(lone_surrogate)
    with pytest.raises(InputError, match="not a level"):
        next(client.watch(min_level="SEVERE", timeout_s=1))
    batch = client.batch_get(["acct_0001", lone_surrogate, "acct_0002", 7])  # type: ignore[list-item]
    assert batch.account_ids[1] == lone_surrogate
    assert list(batch.statuses) == [risk_pb2.ITEM_STATUS_OK, risk_pb2.ITEM_STATUS_INVALID_ARGUMENT, risk_pb2.ITEM_STATUS_OK,
                                    risk_pb2.ITEM_STATUS_INVALID_ARGUMENT]
