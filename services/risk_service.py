"""``ringwatch.v1.RiskService``: plain answer functions and the thin grpc.aio servicer over them.

The functions (:func:`get_risk_score`, :func:`batch_get_risk_scores`, ...) take a
:class:`~services.score_store.ScoreSnapshot` and a request and return a response or raise a
:class:`~ringwatch.errors.RingwatchError`; they know nothing about gRPC contexts, so they can be
tested and benchmarked directly. :class:`RiskServicer` takes one snapshot reference per call
(so a hot swap never mixes two score sets within an answer), maps errors to status codes and
records metrics.

Batch answers are encoded straight to protobuf wire format with numpy (packed fields are just
little-endian arrays behind a tag and a length), so a batch of 10,000 ids costs no per-item
Python work on the way out; :func:`encode_batch_response` output parses as
``BatchGetRiskScoresResponse`` with any protobuf library.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import grpc
import numpy as np
from google.protobuf.message import DecodeError

from ringwatch.errors import InputError, NotFoundError, RingwatchError, ServiceError
from ringwatch.types import MAX_ID_CHARS, is_valid_id
from ringwatch.v1 import risk_pb2
from services.metrics import ServiceMetrics
from services.score_store import (
    LevelChanges,
    ScoreSetInfo,
    ScoreSnapshot,
    ScoreStore,
    _parse_reasons,
    diff_levels,
)

log = logging.getLogger(__name__)

SERVICE_NAME = "ringwatch.v1.RiskService"
MAX_BATCH = 10_000
"""Most ids in one ``BatchGetRiskScores`` (and one ``WatchRiskScores`` filter)."""
DEFAULT_NEIGHBORS = 10
MAX_NEIGHBORS = 100
MAX_RING_MEMBERS = 10_000

STATUS_OK = risk_pb2.ITEM_STATUS_OK
STATUS_NOT_FOUND = risk_pb2.ITEM_STATUS_NOT_FOUND
STATUS_INVALID = risk_pb2.ITEM_STATUS_INVALID_ARGUMENT

_ERROR_CODES: dict[type[RingwatchError], grpc.StatusCode] = {
    InputError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    ServiceError: grpc.StatusCode.UNAVAILABLE,
}


class DeadlineError(RingwatchError):
    """The caller's deadline passed before the answer was ready."""


class StaleScoreSetError(RingwatchError):
    """The caller pinned another score set than the one this server answers from (ring ids are
    numbered per score set): ABORTED, gRPC's code for "read again, then retry"."""


class FellBehindError(RingwatchError):
    """A ``WatchRiskScores`` subscriber stopped reading while :data:`WATCH_BACKLOG` swaps queued
    up: RESOURCE_EXHAUSTED, so it knows to resubscribe and re-read, not wait for changes it lost."""


def status_code_of(exc: RingwatchError) -> grpc.StatusCode:
    """The gRPC status code for an expected failure."""
    if isinstance(exc, DeadlineError):
        return grpc.StatusCode.DEADLINE_EXCEEDED
    if isinstance(exc, StaleScoreSetError):
        return grpc.StatusCode.ABORTED
    if isinstance(exc, FellBehindError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    for kind, code in _ERROR_CODES.items():
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.INTERNAL


def require_snapshot(store: ScoreStore) -> ScoreSnapshot:
    """The store's current snapshot.

    Raises:
        ServiceError: When no score set is loaded (UNAVAILABLE).
    """
    snapshot = store.current
    if snapshot is None:
        raise ServiceError("no score set is loaded yet; retry once health reports SERVING")
    return snapshot


SHOWN_CHARS = 40
"""Most characters of a caller's text an error message repeats (then ``...``)."""


def _shown(text: str) -> str:
    """``text`` as an error message repeats it: at most :data:`SHOWN_CHARS` characters, quoted."""
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "...")


def check_id(account_id: str, what: str = "account_id") -> str:
    """Return ``account_id`` if well formed.

    Raises:
        InputError: When empty, longer than 128 characters or not printable.
    """
    if not is_valid_id(account_id):
        raise InputError(f"{what} {_shown(account_id)} is malformed: expected 1-{MAX_ID_CHARS} printable characters")
    return account_id


@lru_cache(maxsize=16)
def score_set_message(info: ScoreSetInfo) -> risk_pb2.ScoreSet:
    """The ``ScoreSet`` message of a snapshot (built once per score set)."""
    msg = risk_pb2.ScoreSet(
        score_version=info.score_version, model_version=info.model_version, snapshot_version=info.snapshot_version,
        warnings=info.warnings,
    )
    if info.scored_at is not None:
        msg.scored_at.FromDatetime(info.scored_at)
    return msg


@lru_cache(maxsize=16)
def _batch_score_set_bytes(info: ScoreSetInfo) -> bytes:
    return risk_pb2.BatchGetRiskScoresResponse(score_set=score_set_message(info)).SerializeToString()


# --------------------------------------------------------------------------- answers


def get_risk_score(snapshot: ScoreSnapshot, request: risk_pb2.GetRiskScoreRequest) -> risk_pb2.GetRiskScoreResponse:
    """Answer ``GetRiskScore``.

    Raises:
        InputError: Malformed id.
        NotFoundError: Unknown account.
    """
    account_id = check_id(request.account_id)
    row = snapshot.find(account_id)
    if row < 0:
        raise NotFoundError(f"account {account_id!r} is not in score set {snapshot.info.score_version}")
    record = snapshot.record(row)
    return risk_pb2.GetRiskScoreResponse(
        account_id=account_id,
        risk=record.risk,
        level=int(snapshot.level[row]),
        ring_id=record.ring_id or "",
        reasons=record.reasons,
        score_set=score_set_message(snapshot.info),
    )


@lru_cache(maxsize=16)
def _get_score_set_field(info: ScoreSetInfo) -> bytes:
    return risk_pb2.GetRiskScoreResponse(score_set=score_set_message(info)).SerializeToString()


@lru_cache(maxsize=65_536)
def _encoded_reasons(text: str) -> bytes:
    """Field 5 (repeated ``reasons``) of a ``GetRiskScoreResponse`` from the stored JSON text."""
    out = []
    for reason in _parse_reasons(text):
        data = reason.encode("utf-8")
        out += [b"\x2a", _varint(len(data)), data]
    return b"".join(out)


def encode_get_response(snapshot: ScoreSnapshot, row: int) -> bytes:
    """Wire-encode the ``GetRiskScoreResponse`` of the account at ``row`` straight from the columns.

    Byte-identical to ``get_risk_score(...).SerializeToString()`` (fields in number order,
    proto3 defaults left out; tested), at a tenth of the cost: no message objects.
    """
    account = str(snapshot.ids[row]).encode("utf-8")
    parts = [b"\x0a", _varint(len(account)), account]  # 1: account_id
    risk = np.float32(snapshot.risk[row]).tobytes()
    if risk != b"\x00\x00\x00\x00":
        parts += [b"\x15", risk]  # 2: risk (fixed32)
    level = int(snapshot.level[row])
    if level:
        parts += [b"\x18", _varint(level)]  # 3: level
    ring = snapshot.ring_id[row]
    if ring:
        data = ring.encode("utf-8")
        parts += [b"\x22", _varint(len(data)), data]  # 4: ring_id
    parts += [_encoded_reasons(snapshot.reasons[row]), _get_score_set_field(snapshot.info)]  # 5, 6
    return b"".join(parts)


def get_answer(snapshot: ScoreSnapshot, row: int) -> bytes:
    """The encoded answer for ``row``, from the snapshot's per-row cache (filled on first use)."""
    answer = snapshot.wire_answers[row]
    if answer is None:
        answer = snapshot.wire_answers[row] = encode_get_response(snapshot, row)
    return answer


def canonical_get_id(data: bytes) -> str | None:
    """The id of an encoded ``GetRiskScoreRequest`` in the form every protobuf library sends
    (one field-1 string shorter than 128 bytes), or ``None`` for anything else."""
    if len(data) > 2 and data[0] == 0x0A and data[1] == len(data) - 2:
        try:
            return data[2:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


@dataclass(frozen=True)
class Undecodable:
    """A request whose bytes do not parse as its message; its handler answers INVALID_ARGUMENT."""

    reason: str


def lenient_parser(message: type[Any]) -> Callable[[bytes], Any]:
    """A request deserializer that hands undecodable bytes to the handler as :class:`Undecodable`
    (grpcio would answer UNKNOWN with a Python exception's text, and count nothing)."""

    def parse(data: bytes) -> Any:
        try:
            return message.FromString(data)
        except DecodeError as exc:
            return Undecodable(f"{message.__name__} does not parse: {exc}")

    return parse


def parsed(request: Any) -> Any:
    """``request`` itself, unless it did not parse.

    Raises:
        InputError: The request's bytes did not parse (:class:`Undecodable`).
    """
    if isinstance(request, Undecodable):
        raise InputError(request.reason)
    return request


_parse_get = lenient_parser(risk_pb2.GetRiskScoreRequest)


def answer_get_wire(snapshot: ScoreSnapshot, data: bytes) -> bytes:
    """Answer an encoded ``GetRiskScoreRequest`` with an encoded response (the general path).

    Raises:
        InputError: Undecodable request (INVALID_ARGUMENT, not INTERNAL) or malformed id.
        NotFoundError: Unknown account.
    """
    account_id = check_id(parsed(_parse_get(data)).account_id)
    row = snapshot.find(account_id)
    if row < 0:
        raise NotFoundError(f"account {account_id!r} is not in score set {snapshot.info.score_version}")
    return get_answer(snapshot, row)


@dataclass(frozen=True)
class BatchLookup:
    """Per-item results of a batch lookup, as parallel arrays in request order."""

    statuses: np.ndarray  # uint8 ItemStatus
    risks: np.ndarray  # float32, NaN where not OK
    levels: np.ndarray  # uint8 RiskLevel, 0 where not OK
    rows: np.ndarray  # int64, -1 where not OK


def batch_lookup(snapshot: ScoreSnapshot, account_ids: Sequence[str]) -> BatchLookup:
    """Look up many ids at once.

    Found ids need no validation (the store holds only well-formed ids); only the ids that
    were not found are checked, one by one, to tell NOT_FOUND from INVALID_ARGUMENT.
    """
    rows = snapshot.find_many(account_ids)
    if rows.size and rows.min() >= 0:  # the common case: everything found
        return BatchLookup(statuses=np.full(rows.size, STATUS_OK, dtype=np.uint8), risks=snapshot.risk_view[rows],
                           levels=snapshot.level_view[rows], rows=rows)
    missing = np.flatnonzero(rows < 0)
    statuses = np.full(rows.size, STATUS_OK, dtype=np.uint8)
    if missing.size:
        statuses[missing] = [STATUS_NOT_FOUND if is_valid_id(account_ids[i]) else STATUS_INVALID for i in missing]
        found = rows >= 0  # index only the rows found: an empty score set has no row 0 to stand in
        risks = np.full(rows.size, np.nan, dtype=np.float32)
        levels = np.zeros(rows.size, dtype=np.uint8)
        risks[found] = snapshot.risk[rows[found]]
        levels[found] = snapshot.level[rows[found]]
    else:
        risks = np.asarray(snapshot.risk[rows], dtype=np.float32)
        levels = np.asarray(snapshot.level[rows], dtype=np.uint8)
    return BatchLookup(statuses=statuses, risks=risks, levels=levels, rows=rows)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _counts_bytes(found: int, not_found: int, invalid: int) -> bytes:
    """Fields 6-8 (uint32 counts) as ``SerializeToString`` writes them: zeros left out."""
    out = b""
    for tag, value in ((b"\x30", found), (b"\x38", not_found), (b"\x40", invalid)):
        if value:
            out += tag + _varint(value)
    return out


def encode_batch_response(lookup: BatchLookup, info: ScoreSetInfo, ring_ids: Sequence[str] | None = None) -> bytes:
    """Wire-encode a ``BatchGetRiskScoresResponse`` without building per-item messages.

    Packed enums whose values are below 128 are one byte each, packed floats are the raw
    little-endian ``float32`` array, so each field is a tag, a length and ``ndarray.tobytes()``.
    """
    n = int(lookup.statuses.size)
    found = int(np.count_nonzero(lookup.statuses == STATUS_OK))
    invalid = int(np.count_nonzero(lookup.statuses == STATUS_INVALID))
    parts = [
        b"\x0a", _varint(n), lookup.statuses.astype(np.uint8, copy=False).tobytes(),  # 1: statuses (packed)
        b"\x12", _varint(4 * n), lookup.risks.astype("<f4", copy=False).tobytes(),  # 2: risks (packed float)
        b"\x1a", _varint(n), lookup.levels.astype(np.uint8, copy=False).tobytes(),  # 3: levels (packed)
    ] if n else []
    if ring_ids is not None:  # 4: ring_ids, in field order as SerializeToString and the Go edge write it
        parts.append(risk_pb2.BatchGetRiskScoresResponse(ring_ids=ring_ids).SerializeToString())
    parts += [_batch_score_set_bytes(info), _counts_bytes(found, n - found - invalid, invalid)]  # 5: score_set; 6, 7, 8
    return b"".join(parts)


def batch_get_risk_scores(
    snapshot: ScoreSnapshot, request: risk_pb2.BatchGetRiskScoresRequest, max_batch: int = MAX_BATCH
) -> bytes:
    """Answer ``BatchGetRiskScores`` as wire bytes.

    Raises:
        InputError: Empty batch or more than ``max_batch`` ids.
    """
    n = len(request.account_ids)
    if n == 0:
        raise InputError("account_ids is empty; send 1 to %d ids" % max_batch)
    if n > max_batch:
        raise InputError(f"{n} account_ids is above the maximum batch of {max_batch}; split the request")
    account_ids = list(request.account_ids)
    lookup = batch_lookup(snapshot, account_ids)
    ring_ids = None
    if request.include_ring_ids:
        ring_ids = [snapshot.ring_id[int(r)] if r >= 0 else "" for r in lookup.rows]
    return encode_batch_response(lookup, snapshot.info, ring_ids)


def _ring_message(snapshot: ScoreSnapshot, ring_id: str) -> risk_pb2.Ring:
    ring = snapshot.ring(ring_id)
    return risk_pb2.Ring(
        ring_id=ring.ring_id, size=ring.size, density=ring.density, mean_risk=ring.mean_risk, ring_score=ring.ring_score,
        synchrony=ring.synchrony,
        related=[risk_pb2.RelatedRing(ring_id=r.ring_id, links=r.links) for r in ring.related],
    )


def explain_risk_score(
    snapshot: ScoreSnapshot, request: risk_pb2.ExplainRiskScoreRequest
) -> risk_pb2.ExplainRiskScoreResponse:
    """Answer ``ExplainRiskScore``: reasons, top neighbours (with their own scores), ring.

    Raises:
        InputError: Malformed id or ``max_neighbors`` above 100.
        NotFoundError: Unknown account.
    """
    account_id = check_id(request.account_id)
    if request.max_neighbors > MAX_NEIGHBORS:
        raise InputError(f"max_neighbors {request.max_neighbors} is above the maximum of {MAX_NEIGHBORS}")
    limit = request.max_neighbors or DEFAULT_NEIGHBORS
    record = snapshot.get(account_id)
    reasons, neighbors = snapshot.explanation(account_id)
    neighbors = neighbors[:limit]
    rows = snapshot.find_many([nb.account_id for nb in neighbors])
    response = risk_pb2.ExplainRiskScoreResponse(
        account_id=account_id,
        risk=record.risk,
        level=risk_pb2.RiskLevel.Value(f"RISK_LEVEL_{record.level}"),
        reasons=reasons,
        score_set=score_set_message(snapshot.info),
    )
    for nb, row in zip(neighbors, rows):
        response.top_neighbors.add(
            account_id=nb.account_id,
            relation=nb.relation,
            weight=nb.weight,
            risk=float(snapshot.risk[row]) if row >= 0 else math.nan,
            level=int(snapshot.level[row]) if row >= 0 else 0,
        )
    if record.ring_id:
        try:
            response.ring.CopyFrom(_ring_message(snapshot, record.ring_id))
        except NotFoundError:  # ring id without a rings table: name it, no statistics
            response.ring.ring_id = record.ring_id
            response.ring.synchrony = math.nan  # unknown, not "no lockstep"
    return response


def get_ring(snapshot: ScoreSnapshot, request: risk_pb2.GetRingRequest) -> risk_pb2.GetRingResponse:
    """Answer ``GetRing``: statistics and members, riskiest first.

    Raises:
        InputError: Malformed ring id or ``max_members`` above 10,000.
        StaleScoreSetError: ``score_version`` is set and is not the score set this server answers from.
        NotFoundError: Unknown ring, or the score set has no rings table.
    """
    ring_id = check_id(request.ring_id, "ring_id")
    if request.max_members > MAX_RING_MEMBERS:
        raise InputError(f"max_members {request.max_members} is above the maximum of {MAX_RING_MEMBERS}")
    serving = snapshot.info.score_version
    if request.score_version and request.score_version != serving:
        raise StaleScoreSetError(
            f"ring {ring_id} was asked of score set {_shown(request.score_version)}, but this server answers from {serving}; ring ids are "
            f"renumbered by every scoring run: look the account up again (GetRiskScore) and follow the ring id of "
            f"that answer (for a few seconds after a new score set is published, servers behind one address may "
            f"still differ)")
    limit = request.max_members or MAX_RING_MEMBERS
    ring = snapshot.ring(ring_id)
    members = list(ring.members)
    lookup = batch_lookup(snapshot, members)
    order = np.argsort(-np.nan_to_num(lookup.risks, nan=-1.0), kind="stable")[:limit]
    return risk_pb2.GetRingResponse(
        ring=_ring_message(snapshot, ring_id),
        member_ids=[members[i] for i in order],
        member_risks=lookup.risks[order].tolist(),
        member_levels=lookup.levels[order].tolist(),
        score_set=score_set_message(snapshot.info),
    )


def change_messages(
    changes: LevelChanges,
    new: ScoreSetInfo,
    previous_version: str,
    min_level: int = 0,
    account_ids: frozenset[str] | None = None,
) -> list[risk_pb2.RiskLevelChange]:
    """``RiskLevelChange`` messages for one swap, filtered for one subscriber."""
    keep = np.maximum(changes.previous_levels, changes.levels) >= min_level
    if account_ids is not None:
        keep &= np.fromiter((a in account_ids for a in changes.account_ids.tolist()), dtype=bool, count=len(changes))
    score_set = score_set_message(new)
    return [
        risk_pb2.RiskLevelChange(
            account_id=str(changes.account_ids[i]),
            previous_level=int(changes.previous_levels[i]),
            level=int(changes.levels[i]),
            previous_risk=float(changes.previous_risks[i]),
            risk=float(changes.risks[i]),
            score_set=score_set,
            previous_score_version=previous_version,
        )
        for i in np.flatnonzero(keep)
    ]


# --------------------------------------------------------------------------- level-change feed


@dataclass(frozen=True)
class SwapEvent:
    """One hot swap as the watch streams see it."""

    changes: LevelChanges
    info: ScoreSetInfo
    previous_version: str


WATCH_BACKLOG = 64
"""Most swaps queued for one ``WatchRiskScores`` stream before it is dropped (a swap comes with
each new score set, so 64 is days of swaps a reader has not read)."""


class ChangeFeed:
    """Fans hot-swap level changes out to ``WatchRiskScores`` streams on the server's loop.

    Args:
        loop: The event loop the server runs on.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queues: set[asyncio.Queue[SwapEvent | None]] = set()

    def subscribe(self) -> asyncio.Queue[SwapEvent | None]:
        """A queue of this subscriber's swaps; ``None`` in it means it fell behind and was dropped."""
        queue: asyncio.Queue[SwapEvent | None] = asyncio.Queue(maxsize=WATCH_BACKLOG + 1)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[SwapEvent | None]) -> None:
        self._queues.discard(queue)

    def on_swap(self, old: ScoreSnapshot | None, new: ScoreSnapshot) -> None:
        """Store listener (runs on the swapping thread): diff only when someone listens."""
        if old is None or not self._queues:
            return
        event = SwapEvent(diff_levels(old, new), new.info, old.info.score_version)
        log.info("score swap %s -> %s: %d level changes", old.info.score_version, new.info.score_version, len(event.changes))
        self._loop.call_soon_threadsafe(self._publish, event)

    def _publish(self, event: SwapEvent) -> None:
        for queue in list(self._queues):
            if queue.qsize() >= WATCH_BACKLOG:  # it stopped reading: dropped, not buffered forever, and told so
                self._queues.discard(queue)
                queue.put_nowait(None)  # the one place left past the backlog
                continue
            queue.put_nowait(event)


# --------------------------------------------------------------------------- servicer


class RiskServicer:
    """The grpc.aio servicer: one snapshot per call, errors to status codes, metrics.

    Args:
        store: Where the current score snapshot comes from.
        feed: Level-change fan-out for ``WatchRiskScores``.
        metrics: Request counters and latency histograms (optional).
        max_batch: Most ids per batch request.
    """

    def __init__(
        self, store: ScoreStore, feed: ChangeFeed, metrics: ServiceMetrics | None = None, max_batch: int = MAX_BATCH
    ) -> None:
        self.store = store
        self.feed = feed
        self.metrics = metrics
        self.max_batch = max_batch

    async def _unary(self, method: str, answer: Callable[[ScoreSnapshot, Any], Any], request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise DeadlineError("the deadline passed before the request was served")
            request = parsed(request)  # bytes that do not parse are the caller's mistake, loaded or not
            return answer(require_snapshot(self.store), request)
        except RingwatchError as exc:
            code = status_code_of(exc)
            await context.abort(code, str(exc))
        finally:
            if self.metrics is not None:
                self.metrics.observe(method, code, time.perf_counter() - started)

    async def GetRiskScore(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """The hot path: raw request bytes in, cached response bytes out.

        A canonical request for a scored account costs a length check, a UTF-8 decode, a dict
        lookup and a list index into the snapshot's per-row answer cache: no protobuf parsing,
        no message building, no serialisation. Anything else (errors, non-canonical encodings)
        takes the general path through the generated classes; a hit records latency 0 in the
        metrics (it takes about a microsecond).
        """
        snapshot = self.store.current
        if snapshot is not None:
            account_id = canonical_get_id(request)
            if account_id is not None:
                row = snapshot._index.rows.get(account_id, -1)
                if row >= 0:
                    remaining = context.time_remaining()
                    if remaining is None or remaining > 0:
                        if self.metrics is not None:
                            self.metrics.observe("GetRiskScore", grpc.StatusCode.OK, 0.0)
                        answer = snapshot.wire_answers[row]
                        return answer if answer is not None else get_answer(snapshot, row)
        return await self._unary("GetRiskScore", answer_get_wire, request, context)

    async def BatchGetRiskScores(self, request: risk_pb2.BatchGetRiskScoresRequest | Undecodable,
                                 context: grpc.aio.ServicerContext) -> bytes:
        if self.metrics is not None and not isinstance(request, Undecodable):
            self.metrics.batch_items.inc(len(request.account_ids))
        return await self._unary(
            "BatchGetRiskScores", lambda snap, req: batch_get_risk_scores(snap, req, self.max_batch), request, context
        )

    async def ExplainRiskScore(self, request: risk_pb2.ExplainRiskScoreRequest, context: grpc.aio.ServicerContext) -> risk_pb2.ExplainRiskScoreResponse:
        return await self._unary("ExplainRiskScore", explain_risk_score, request, context)

    async def GetRing(self, request: risk_pb2.GetRingRequest, context: grpc.aio.ServicerContext) -> risk_pb2.GetRingResponse:
        return await self._unary("GetRing", get_ring, request, context)

    async def WatchRiskScores(
        self, request: risk_pb2.WatchRiskScoresRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[risk_pb2.RiskLevelChange]:
        code = grpc.StatusCode.OK
        started = time.perf_counter()
        try:
            request = parsed(request)
            if request.min_level not in risk_pb2.RiskLevel.values():
                raise InputError(f"min_level {request.min_level} is not a RiskLevel (valid: "
                                 f"{', '.join(f'{n} = {v}' for n, v in risk_pb2.RiskLevel.items())})")
            if len(request.account_ids) > self.max_batch:
                raise InputError(f"{len(request.account_ids)} account_ids is above the maximum of {self.max_batch}")
            for account_id in request.account_ids:
                check_id(account_id)
            wanted = frozenset(request.account_ids) or None
            queue = self.feed.subscribe()
            try:
                while True:
                    event = await queue.get()
                    if event is None:
                        raise FellBehindError(f"this stream fell {WATCH_BACKLOG} score swaps behind and was dropped; "
                                              "resubscribe and re-read the accounts it watches")
                    for message in change_messages(event.changes, event.info, event.previous_version, int(request.min_level), wanted):
                        yield message
            finally:
                self.feed.unsubscribe(queue)
        except RingwatchError as exc:
            code = status_code_of(exc)
            await context.abort(code, str(exc))
        except asyncio.CancelledError:
            remaining = context.time_remaining()  # a stream ends at its deadline: counted as that, not as a cancel
            code = grpc.StatusCode.DEADLINE_EXCEEDED if remaining is not None and remaining <= 0 else grpc.StatusCode.CANCELLED
            raise
        finally:
            if self.metrics is not None:
                self.metrics.observe("WatchRiskScores", code, time.perf_counter() - started)


def _serialize(message: Any) -> bytes:
    """Response serializer that passes pre-encoded answers through."""
    return message if isinstance(message, bytes) else message.SerializeToString()


def method_handlers(servicer: RiskServicer) -> dict[str, grpc.RpcMethodHandler]:
    """The service's method handlers (as the generated code's, but batch answers pass through as bytes)."""
    return {
        "GetRiskScore": grpc.unary_unary_rpc_method_handler(servicer.GetRiskScore),  # bytes in, bytes out
        "BatchGetRiskScores": grpc.unary_unary_rpc_method_handler(
            servicer.BatchGetRiskScores,
            request_deserializer=lenient_parser(risk_pb2.BatchGetRiskScoresRequest),
            response_serializer=_serialize,
        ),
        "ExplainRiskScore": grpc.unary_unary_rpc_method_handler(
            servicer.ExplainRiskScore,
            request_deserializer=lenient_parser(risk_pb2.ExplainRiskScoreRequest),
            response_serializer=_serialize,
        ),
        "GetRing": grpc.unary_unary_rpc_method_handler(
            servicer.GetRing,
            request_deserializer=lenient_parser(risk_pb2.GetRingRequest),
            response_serializer=_serialize,
        ),
        "WatchRiskScores": grpc.unary_stream_rpc_method_handler(
            servicer.WatchRiskScores,
            request_deserializer=lenient_parser(risk_pb2.WatchRiskScoresRequest),
            response_serializer=_serialize,
        ),
    }
