"""A typed Python client for ``ringwatch.v1.RiskService``, for account systems and the demo.

Every call has a deadline (``timeout_s``). Retries follow gRPC's own retry policy (service
config): only UNAVAILABLE is retried, with jittered exponential backoff, and only within the
call's deadline — every RiskService call is a read, so retrying it is safe. Failures come out
as :mod:`ringwatch.errors` types: INVALID_ARGUMENT → :class:`InputError`, NOT_FOUND →
:class:`NotFoundError`, anything else (UNAVAILABLE, UNAUTHENTICATED, DEADLINE_EXCEEDED, ...) →
:class:`RiskServiceError` carrying the status code.

Example:
    >>> with RiskClient("127.0.0.1:50051") as client:  # doctest: +SKIP
    ...     score = client.get("acct_42")
    ...     print(score.risk, score.level, score.score_set.model_version)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import grpc
import numpy as np

from ringwatch.errors import InputError, NotFoundError, ServiceError
from ringwatch.v1 import risk_pb2, risk_pb2_grpc
from services.auth import bearer_metadata

LEVELS: tuple[str, ...] = ("UNSPECIFIED", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""``RiskLevel`` enum value → name."""
ITEM_STATUSES: tuple[str, ...] = ("UNSPECIFIED", "OK", "NOT_FOUND", "INVALID_ARGUMENT")
"""``ItemStatus`` enum value → name."""


class RiskServiceError(ServiceError):
    """A call failed with a status other than INVALID_ARGUMENT or NOT_FOUND.

    Attributes:
        code: The gRPC status code.
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        self.code = code
        super().__init__(message)


BATCH_METHOD = "/ringwatch.v1.RiskService/BatchGetRiskScores"


def _varint_at(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def decode_batch_response(
    data: bytes,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], risk_pb2.ScoreSet]:
    """Decode an encoded ``BatchGetRiskScoresResponse`` into arrays without per-item work.

    Walks the top-level fields only (a handful); the packed ``statuses``, ``risks`` and
    ``levels`` become read-only ``np.frombuffer`` views over ``data``. Anything this shortcut
    does not cover (unpacked repeated fields, enum values above 127, a field split in two,
    ``ring_ids``) is decoded by the generated class instead, so any valid encoding works.

    Returns:
        ``(statuses uint8, risks float32, levels uint8, ring_ids, score_set)``.
    """
    spans: dict[int, tuple[int, int]] = {}
    score_set = (0, 0)
    pos, end = 0, len(data)
    try:
        while pos < end:
            key, pos = _varint_at(data, pos)
            number, wire = key >> 3, key & 7
            if wire == 2:
                length, pos = _varint_at(data, pos)
                if number in (1, 2, 3):
                    if number in spans:
                        raise ValueError("field split in two")
                    spans[number] = (pos, length)
                elif number == 4:
                    raise ValueError("ring_ids")
                elif number == 5:
                    score_set = (pos, length)
                pos += length
            elif wire == 0:
                if number in (1, 3):
                    raise ValueError("unpacked enum")
                _, pos = _varint_at(data, pos)
            elif wire == 5:
                if number == 2:
                    raise ValueError("unpacked float")
                pos += 4
            elif wire == 1:
                pos += 8
            else:
                raise ValueError("group")
        (s_at, n), (r_at, r_len), (l_at, l_len) = (spans.get(k, (0, 0)) for k in (1, 2, 3))
        if pos != end or r_len != 4 * n or l_len != n:
            raise ValueError("lengths")
        statuses = np.frombuffer(data, np.uint8, n, s_at)
        levels = np.frombuffer(data, np.uint8, n, l_at)
        if n and (statuses.max() >= 0x80 or levels.max() >= 0x80):
            raise ValueError("multi-byte enum")
        return (statuses, np.frombuffer(data, "<f4", n, r_at), levels, (),
                risk_pb2.ScoreSet.FromString(data[score_set[0] : score_set[0] + score_set[1]]))
    except (ValueError, IndexError):
        r = risk_pb2.BatchGetRiskScoresResponse.FromString(data)
        n = len(r.statuses)
        return (np.fromiter(r.statuses, np.uint8, n), np.fromiter(r.risks, np.float32, n),
                np.fromiter(r.levels, np.uint8, n), tuple(r.ring_ids), r.score_set)


@dataclass(frozen=True)
class ScoreSetRef:
    """Which score set answered, and why its levels may mislead (``warnings``, empty when
    scoring saw nothing amiss)."""

    score_version: str
    model_version: str
    snapshot_version: str
    scored_at: datetime | None
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_message(cls, msg: risk_pb2.ScoreSet) -> ScoreSetRef:
        return cls(
            msg.score_version, msg.model_version, msg.snapshot_version,
            msg.scored_at.ToDatetime(tzinfo=timezone.utc) if msg.HasField("scored_at") else None,
            tuple(msg.warnings),
        )


@dataclass(frozen=True)
class RiskScore:
    """One account's score."""

    account_id: str
    risk: float
    level: str
    ring_id: str | None
    reasons: tuple[str, ...]
    score_set: ScoreSetRef


@dataclass(frozen=True)
class BatchScores:
    """A batch answer as parallel numpy arrays in request order.

    Attributes:
        account_ids: The ids asked for.
        statuses: ``ItemStatus`` codes (1 OK, 2 NOT_FOUND, 3 INVALID_ARGUMENT).
        risks: ``float32``; NaN where not found.
        levels: ``RiskLevel`` codes (0 where not found); names in :data:`LEVELS`.
        ring_ids: Ring per item when asked for, else ``None``.
        score_set: Which score set answered.
    """

    account_ids: Sequence[str]
    statuses: np.ndarray
    risks: np.ndarray
    levels: np.ndarray
    ring_ids: tuple[str, ...] | None
    score_set: ScoreSetRef

    def __len__(self) -> int:
        return len(self.account_ids)

    def as_dict(self) -> dict[str, RiskScore | None]:
        """``{account_id: RiskScore or None}`` (Python-level; for small batches)."""
        out: dict[str, RiskScore | None] = {}
        for i, account_id in enumerate(self.account_ids):
            if self.statuses[i] != risk_pb2.ITEM_STATUS_OK:
                out[account_id] = None
                continue
            ring = self.ring_ids[i] if self.ring_ids is not None else ""
            out[account_id] = RiskScore(account_id, float(self.risks[i]), LEVELS[int(self.levels[i])], ring or None, (), self.score_set)
        return out


@dataclass(frozen=True)
class Neighbor:
    account_id: str
    relation: str
    weight: float
    risk: float
    level: str


class RelatedRingInfo(NamedTuple):
    """A ring related to another (members sharing links), in the same score set."""

    ring_id: str
    links: int


@dataclass(frozen=True)
class RingInfo:
    ring_id: str
    size: int
    density: float
    mean_risk: float
    ring_score: float
    synchrony: float
    related: tuple[RelatedRingInfo, ...] = ()
    """The rings whose members share at least two links with this ring's, most links first (ids
    of the same score set: ring ids are renumbered by every scoring run)."""


@dataclass(frozen=True)
class Explanation:
    """Why an account scored as it did."""

    account_id: str
    risk: float
    level: str
    reasons: tuple[str, ...]
    top_neighbors: tuple[Neighbor, ...]
    ring: RingInfo | None
    score_set: ScoreSetRef


@dataclass(frozen=True)
class RingMembers:
    """A ring, its members riskiest first, and their scores."""

    ring: RingInfo
    member_ids: tuple[str, ...]
    member_risks: np.ndarray
    member_levels: tuple[str, ...]
    score_set: ScoreSetRef


@dataclass(frozen=True)
class LevelChange:
    """An account whose level changed across a hot swap."""

    account_id: str
    previous_level: str
    level: str
    previous_risk: float
    risk: float
    score_set: ScoreSetRef
    previous_score_version: str


def _ring(msg: risk_pb2.Ring) -> RingInfo:
    return RingInfo(msg.ring_id, msg.size, msg.density, msg.mean_risk, msg.ring_score, msg.synchrony,
                    tuple(RelatedRingInfo(r.ring_id, r.links) for r in msg.related))


def retry_service_config(max_attempts: int = 4) -> str:
    """gRPC service config that retries UNAVAILABLE (only) on every RiskService method."""
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": "ringwatch.v1.RiskService"}],
                    "retryPolicy": {
                        "maxAttempts": max_attempts,
                        "initialBackoff": "0.05s",
                        "maxBackoff": "1s",
                        "backoffMultiplier": 2.5,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def _encodes(text: object) -> bool:
    """Whether ``text`` can go out as a protobuf string (text, without a lone surrogate)."""
    if not isinstance(text, str):
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class RiskClient:
    """Client for the risk service.

    Args:
        target: ``host:port`` of the server.
        token: Bearer token, when the server requires one.
        timeout_s: Deadline of each call.
        root_cert: PEM root certificate (bytes or path) to speak TLS; ``None`` = plaintext.
        server_name: TLS name to verify, when it differs from the target's host.
        max_attempts: Attempts per call on UNAVAILABLE (1 disables retries).
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        timeout_s: float = 1.0,
        root_cert: bytes | Path | None = None,
        server_name: str | None = None,
        max_attempts: int = 4,
    ) -> None:
        self.target = target
        self.timeout_s = timeout_s
        options: list[tuple[str, object]] = [
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.enable_retries", 1 if max_attempts > 1 else 0),
            ("grpc.service_config", retry_service_config(max(max_attempts, 2))),
        ]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if root_cert is not None:
            pem = root_cert.read_bytes() if isinstance(root_cert, Path) else root_cert
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(pem), options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._metadata = bearer_metadata(token) if token else None
        self._stub = risk_pb2_grpc.RiskServiceStub(self._channel)
        self._batch_raw = self._channel.unary_unary(
            BATCH_METHOD, request_serializer=risk_pb2.BatchGetRiskScoresRequest.SerializeToString, response_deserializer=None
        )

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> RiskClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _request(message: type, **fields: object):  # noqa: ANN205
        """``message(**fields)``, or InputError when a field is no valid text (a lone surrogate)."""
        try:
            return message(**fields)
        except (UnicodeEncodeError, TypeError, ValueError) as exc:
            raise InputError(f"{message.__name__}: {exc} (ids are text that encodes as UTF-8)") from None

    def _call(self, method, request, timeout_s: float | None):  # noqa: ANN001, ANN202
        try:
            return method(request, timeout=timeout_s or self.timeout_s, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def get(self, account_id: str, *, timeout_s: float | None = None) -> RiskScore:
        """One account's score.

        Raises:
            InputError: Malformed id. NotFoundError: Unknown account.
            RiskServiceError: Any other failure (UNAVAILABLE after retries, deadline, auth).
        """
        r = self._call(self._stub.GetRiskScore, self._request(risk_pb2.GetRiskScoreRequest, account_id=account_id), timeout_s)
        return RiskScore(r.account_id, r.risk, LEVELS[r.level], r.ring_id or None, tuple(r.reasons), ScoreSetRef.from_message(r.score_set))

    def batch_get(self, account_ids: Sequence[str], *, include_ring_ids: bool = False, timeout_s: float | None = None) -> BatchScores:
        """Scores of up to 10,000 accounts; unknown or malformed ids get a per-item status.

        The answer is decoded with :func:`decode_batch_response`: ``statuses``, ``risks`` and
        ``levels`` are read-only numpy views over the received bytes (no per-item work).
        """
        try:
            request = risk_pb2.BatchGetRiskScoresRequest(account_ids=account_ids, include_ring_ids=include_ring_ids)
        except (UnicodeEncodeError, TypeError):  # an id that is no text is sent empty: the server marks it INVALID_ARGUMENT
            request = risk_pb2.BatchGetRiskScoresRequest(account_ids=[a if _encodes(a) else "" for a in account_ids],
                                                         include_ring_ids=include_ring_ids)
        data = self._call(self._batch_raw, request, timeout_s)
        statuses, risks, levels, ring_ids, score_set = decode_batch_response(data)
        return BatchScores(
            account_ids=account_ids, statuses=statuses, risks=risks, levels=levels,
            ring_ids=ring_ids if include_ring_ids else None, score_set=ScoreSetRef.from_message(score_set),
        )

    def explain(self, account_id: str, *, max_neighbors: int = 10, timeout_s: float | None = None) -> Explanation:
        """Reasons, top neighbours and ring of a scored account."""
        request = self._request(risk_pb2.ExplainRiskScoreRequest, account_id=account_id, max_neighbors=max_neighbors)
        r = self._call(self._stub.ExplainRiskScore, request, timeout_s)
        return Explanation(
            account_id=r.account_id, risk=r.risk, level=LEVELS[r.level], reasons=tuple(r.reasons),
            top_neighbors=tuple(Neighbor(n.account_id, n.relation, n.weight, n.risk, LEVELS[n.level]) for n in r.top_neighbors),
            ring=_ring(r.ring) if r.HasField("ring") else None,
            score_set=ScoreSetRef.from_message(r.score_set),
        )

    def get_ring(self, ring_id: str, *, max_members: int = 0, score_version: str = "",
                 timeout_s: float | None = None) -> RingMembers:
        """A ring's statistics and members (riskiest first; 0 = up to the server's maximum).

        ``score_version`` pins the score set the ring id came from: when the server answers from
        another, :class:`RiskServiceError` with ``ABORTED`` (ring ids are renumbered by every
        scoring run: look the account up again). Empty: the current set.
        """
        request = self._request(risk_pb2.GetRingRequest, ring_id=ring_id, max_members=max_members, score_version=score_version)
        r = self._call(self._stub.GetRing, request, timeout_s)
        return RingMembers(
            ring=_ring(r.ring), member_ids=tuple(r.member_ids),
            member_risks=np.fromiter(r.member_risks, dtype=np.float32, count=len(r.member_risks)),
            member_levels=tuple(LEVELS[v] for v in r.member_levels), score_set=ScoreSetRef.from_message(r.score_set),
        )

    def watch(
        self, *, account_ids: Sequence[str] = (), min_level: str = "UNSPECIFIED", timeout_s: float | None = None
    ) -> Iterator[LevelChange]:
        """Level changes at each hot swap, until ``timeout_s`` (``None``: until closed).

        Raises:
            RiskServiceError: DEADLINE_EXCEEDED when ``timeout_s`` passes, or other failures.
        """
        if min_level not in LEVELS:
            raise InputError(f"min_level {min_level!r} is not a level (valid: {', '.join(LEVELS)})")
        request = self._request(risk_pb2.WatchRiskScoresRequest, account_ids=account_ids, min_level=LEVELS.index(min_level))
        try:
            for c in self._stub.WatchRiskScores(request, timeout=timeout_s, metadata=self._metadata):
                yield LevelChange(
                    c.account_id, LEVELS[c.previous_level], LEVELS[c.level], c.previous_risk, c.risk,
                    ScoreSetRef.from_message(c.score_set), c.previous_score_version,
                )
        except grpc.RpcError as exc:
            raise _error(exc) from None


def _error(exc: grpc.RpcError) -> Exception:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InputError(details)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(details)
    return RiskServiceError(code, f"risk service {code.name}: {details}")
