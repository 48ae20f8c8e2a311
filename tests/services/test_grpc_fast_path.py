"""The GetRiskScore fast path: hand-encoded answers are the generated classes' bytes, and every
request that is not the plain canonical form still gets the right answer or status."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import grpc
import numpy as np
import pyarrow as pa
import pytest

from ringwatch.v1 import risk_pb2, risk_pb2_grpc
from ringwatch.versions import VersionedDir
from services.grpc_server import ServerOptions, ServerThread
from services.metrics import ServiceMetrics
from services.risk_service import canonical_get_id, encode_get_response, get_risk_score
from services.score_store import ScoreSetInfo, ScoreSnapshot, ScoreStore, StringColumn
from tests.services.score_sets import publish_scores

INFO = ScoreSetInfo("v3", "m2", "s9", datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc), 6)
IDS = ["a", "bé", "x" * 127, "ü" * 100, "acct 5", "z"]
RISKS = [0.0, -0.0, 0.5, 1.0, float("nan"), 1e-40]
LEVELS = [0, 1, 2, 3, 4, 1]
RINGS = [None, "ring_1", "", "ringü", None, "r" * 200]
REASONS = [json.dumps(["one", "twö"]), "", "not json", json.dumps([]), json.dumps("single"), json.dumps(["x" * 300])]


def _snapshot(info: ScoreSetInfo = INFO) -> ScoreSnapshot:
    ids = np.array(IDS)
    return ScoreSnapshot(
        info, ids, np.array(RISKS, dtype=np.float32), np.array(LEVELS, dtype=np.uint8),
        StringColumn.from_arrow(pa.array(RINGS, pa.string())), StringColumn.from_arrow(pa.array(REASONS, pa.string())),
    )


@pytest.mark.parametrize("info", [INFO, ScoreSetInfo("v1", "", "s", None, 6), ScoreSetInfo("v2", "m", "s", None, 6, warnings=("a é", ""))])
def test_hand_encoding_is_byte_identical_to_generated(info: ScoreSetInfo) -> None:
    snap = _snapshot(info)
    for row, account in enumerate(IDS):
        expected = get_risk_score(snap, risk_pb2.GetRiskScoreRequest(account_id=account))
        got = encode_get_response(snap, row)
        assert got == expected.SerializeToString(), account
        parsed = risk_pb2.GetRiskScoreResponse.FromString(got)
        assert parsed.account_id == account and parsed.level == LEVELS[row]
        assert (math.isnan(parsed.risk) and math.isnan(RISKS[row])) or parsed.risk == np.float32(RISKS[row])


def test_canonical_request_detection() -> None:
    for account in ("a", "acct_0001", "x" * 127, "é" * 63):
        assert canonical_get_id(risk_pb2.GetRiskScoreRequest(account_id=account).SerializeToString()) == account
    assert canonical_get_id(risk_pb2.GetRiskScoreRequest(account_id="x" * 128).SerializeToString()) is None  # 2-byte length
    assert canonical_get_id(risk_pb2.GetRiskScoreRequest(account_id="").SerializeToString()) is None  # empty message
    assert canonical_get_id(b"\x0a\x02\xff\xfe") is None  # not UTF-8
    assert canonical_get_id(b"\x0a\x05ab") is None  # truncated
    assert canonical_get_id(b"\x0a\x01a\x10\x01") is None  # an extra (unknown) field


# --------------------------------------------------------------------------- over a real server

SERVER_IDS = [f"acct_{i:03d}" for i in range(50)] + ["x" * 128, "ünï"]


@pytest.fixture
def scores(tmp_path: Path) -> VersionedDir:
    return VersionedDir(tmp_path / "scores")


@pytest.fixture
def served(scores: VersionedDir) -> Iterator[tuple[ScoreStore, ServiceMetrics, grpc.Channel]]:
    publish_scores(scores, SERVER_IDS, [i / len(SERVER_IDS) for i in range(len(SERVER_IDS))])
    store = ScoreStore(scores)
    assert store.refresh()
    metrics = ServiceMetrics(store)
    srv = ServerThread("127.0.0.1:0", store, ServerOptions(), metrics=metrics).start()
    ch = grpc.insecure_channel(f"127.0.0.1:{srv.port}")
    try:
        yield store, metrics, ch
    finally:
        ch.close()
        srv.stop()


def _raw(ch: grpc.Channel) -> grpc.UnaryUnaryMultiCallable:
    return ch.unary_unary("/ringwatch.v1.RiskService/GetRiskScore")  # bytes in, bytes out


def _code(call: grpc.UnaryUnaryMultiCallable, request: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=5)
    return info.value.code()


def test_every_encoding_answers_like_the_generated_path(served: tuple[ScoreStore, ServiceMetrics, grpc.Channel]) -> None:
    store, metrics, ch = served
    stub = risk_pb2_grpc.RiskServiceStub(ch)
    snap = store.current
    assert snap is not None
    for account in SERVER_IDS:
        expected = get_risk_score(snap, risk_pb2.GetRiskScoreRequest(account_id=account))
        for _ in range(2):  # first call fills the per-row cache, second answers from it
            assert stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id=account), timeout=5) == expected
    # Not canonical: an unknown field appended, the id sent twice (last one wins), still answered.
    unknown = risk_pb2.GetRiskScoreRequest(account_id="acct_001").SerializeToString() + b"\x10\x01"
    assert risk_pb2.GetRiskScoreResponse.FromString(_raw(ch)(unknown, timeout=5)).account_id == "acct_001"
    twice = b"\x0a\x01a" + risk_pb2.GetRiskScoreRequest(account_id="acct_002").SerializeToString()
    assert risk_pb2.GetRiskScoreResponse.FromString(_raw(ch)(twice, timeout=5)).account_id == "acct_002"
    # Errors stay what gRPC defines.
    assert _code(_raw(ch), b"\x0a\x05ab") == grpc.StatusCode.INVALID_ARGUMENT  # does not parse
    assert _code(_raw(ch), b"\x0a\x02\xff\xfe") == grpc.StatusCode.INVALID_ARGUMENT  # not UTF-8
    assert _code(_raw(ch), b"") == grpc.StatusCode.INVALID_ARGUMENT  # empty id
    assert _code(stub.GetRiskScore, risk_pb2.GetRiskScoreRequest(account_id="nobody")) == grpc.StatusCode.NOT_FOUND
    assert _code(stub.GetRiskScore, risk_pb2.GetRiskScoreRequest(account_id="a\x00b")) == grpc.StatusCode.INVALID_ARGUMENT
    sample = metrics.registry.get_sample_value
    deadline = time.monotonic() + 5  # the server records a failed call just after the client sees its status
    while sample("ringwatch_grpc_requests_total", {"method": "GetRiskScore", "code": "INVALID_ARGUMENT"}) != 4:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert sample("ringwatch_grpc_requests_total", {"method": "GetRiskScore", "code": "OK"}) == 2 * len(SERVER_IDS) + 2
    assert sample("ringwatch_grpc_requests_total", {"method": "GetRiskScore", "code": "INVALID_ARGUMENT"}) == 4
    assert sample("ringwatch_grpc_request_seconds_bucket", {"method": "GetRiskScore", "le": "+Inf"}) == 2 * len(SERVER_IDS) + 7


def test_hot_swap_never_serves_cached_answers_of_the_old_set(
    scores: VersionedDir, served: tuple[ScoreStore, ServiceMetrics, grpc.Channel]
) -> None:
    store, _metrics, ch = served
    stub = risk_pb2_grpc.RiskServiceStub(ch)
    request = risk_pb2.GetRiskScoreRequest(account_id="acct_010")
    before = stub.GetRiskScore(request, timeout=5)
    assert stub.GetRiskScore(request, timeout=5) == before  # cached now
    publish_scores(scores, SERVER_IDS, [0.99] * len(SERVER_IDS), model_version="m2")
    assert store.refresh()
    after = stub.GetRiskScore(request, timeout=5)
    assert after.score_set.model_version == "m2" and after.risk == pytest.approx(0.99)
    assert after.score_set.score_version != before.score_set.score_version
