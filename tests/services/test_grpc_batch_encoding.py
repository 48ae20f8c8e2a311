"""The numpy wire encoding of batch answers parses exactly like a protobuf-built message."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np

from ringwatch.v1 import risk_pb2
from services.risk_service import BatchLookup, encode_batch_response, score_set_message
from services.score_store import ScoreSetInfo

INFO = ScoreSetInfo("v3", "m2", "s9", datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc), 3)
WARNED = ScoreSetInfo("v4", "m2", "s9", None, 3, warnings=("levels over-flag: 31.0% at MEDIUM or above", "é", ""))


def _lookup(n: int) -> BatchLookup:
    rng = np.random.default_rng(0)
    statuses = rng.choice([1, 2, 3], size=n).astype(np.uint8)
    risks = np.where(statuses == 1, rng.random(n).astype(np.float32), np.float32(np.nan)).astype(np.float32)
    levels = np.where(statuses == 1, rng.integers(1, 5, n), 0).astype(np.uint8)
    return BatchLookup(statuses=statuses, risks=risks, levels=levels, rows=np.arange(n))


def test_encoding_matches_protobuf() -> None:
    for n in (1, 127, 128, 5000):
        lookup = _lookup(n)
        rings = [f"r{i}" if i % 3 else "" for i in range(n)]
        parsed = risk_pb2.BatchGetRiskScoresResponse.FromString(encode_batch_response(lookup, INFO, rings))
        assert list(parsed.statuses) == lookup.statuses.tolist()
        assert list(parsed.levels) == lookup.levels.tolist()
        got = np.array(parsed.risks, dtype=np.float32)
        assert np.array_equal(got, lookup.risks, equal_nan=True)
        assert list(parsed.ring_ids) == rings
        assert parsed.score_set == score_set_message(INFO)
        assert parsed.found + parsed.not_found + parsed.invalid == n
        assert parsed.found == int((lookup.statuses == 1).sum())


def test_encoding_is_byte_identical_to_generated() -> None:
    """Field order included (ring ids before the score set), so the Go edge's answers match to the byte."""
    lookup = _lookup(5)
    for info in (INFO, WARNED):
        for rings in (None, ["r0", "", "r2", "ringü", "r4"]):
            expected = risk_pb2.BatchGetRiskScoresResponse(
                statuses=lookup.statuses.tolist(), risks=lookup.risks.tolist(), levels=lookup.levels.tolist(),
                ring_ids=rings or [], score_set=score_set_message(info), found=int((lookup.statuses == 1).sum()),
                not_found=int((lookup.statuses == 2).sum()), invalid=int((lookup.statuses == 3).sum()))
            assert encode_batch_response(lookup, info, rings) == expected.SerializeToString()
            assert list(risk_pb2.BatchGetRiskScoresResponse.FromString(encode_batch_response(lookup, info, rings)).score_set.warnings) \
                == list(info.warnings)


def test_encoding_without_ring_ids() -> None:
    parsed = risk_pb2.BatchGetRiskScoresResponse.FromString(encode_batch_response(_lookup(3), INFO))
    assert len(parsed.ring_ids) == 0 and len(parsed.risks) == 3
    assert parsed.score_set.scored_at.ToDatetime(tzinfo=timezone.utc) == INFO.scored_at
    assert not math.isnan(parsed.score_set.scored_at.seconds)


def test_client_decoder_reads_every_valid_encoding() -> None:
    from services.risk_client import decode_batch_response

    lookup = _lookup(300)
    for rings, info in ((None, INFO), ([f"r{i}" for i in range(300)], INFO), ([f"r{i}" for i in range(300)], WARNED)):
        data = encode_batch_response(lookup, info, rings)
        statuses, risks, levels, ring_ids, score_set = decode_batch_response(data)
        assert statuses.tolist() == lookup.statuses.tolist() and levels.tolist() == lookup.levels.tolist()
        assert np.array_equal(risks, lookup.risks, equal_nan=True) and score_set == score_set_message(info)
        assert list(ring_ids) == (rings or [])
    # The generated class's own encoding, an empty answer, and unpacked repeated fields.
    msg = risk_pb2.BatchGetRiskScoresResponse(statuses=[1, 2], risks=[0.5, float("nan")], levels=[3, 0], found=1, not_found=1)
    statuses, risks, levels, _, _ = decode_batch_response(msg.SerializeToString())
    assert statuses.tolist() == [1, 2] and levels.tolist() == [3, 0] and risks[0] == 0.5 and math.isnan(risks[1])
    assert decode_batch_response(b"")[0].size == 0
    unpacked = b"\x08\x01\x08\x02\x15\x00\x00\x00\x3f\x15\x00\x00\x80\x3f\x18\x03\x18\x04"
    statuses, risks, levels, _, _ = decode_batch_response(unpacked)
    assert statuses.tolist() == [1, 2] and risks.tolist() == [0.5, 1.0] and levels.tolist() == [3, 4]
