"""The watch fan-out: a subscriber that stops reading is dropped and told so, never left hanging."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import numpy as np
import pytest

from ringwatch.v1 import risk_pb2
from ringwatch.versions import VersionedDir
from services.risk_service import WATCH_BACKLOG, ChangeFeed, RiskServicer, SwapEvent
from services.score_store import LevelChanges, ScoreSetInfo, ScoreStore
from tests.services.score_sets import publish_scores


class _Aborted(Exception):
    pass


class _Context:
    """The one part of a grpc.aio context the stream uses when it fails."""

    code: grpc.StatusCode | None = None

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code, self.details = code, details
        raise _Aborted


def _event(n: int, info: ScoreSetInfo | None = None) -> SwapEvent:
    empty = np.array([], dtype=object)
    nothing = LevelChanges(empty, np.zeros(0, np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.float32), np.zeros(0, np.float32))
    return SwapEvent(changes=nothing, info=info, previous_version=f"v{n}")  # type: ignore[arg-type]


def test_a_reader_within_the_backlog_gets_every_swap() -> None:
    async def run() -> list[str]:
        feed = ChangeFeed(asyncio.get_running_loop())
        queue = feed.subscribe()
        for n in range(WATCH_BACKLOG):
            feed._publish(_event(n))
        return [(await queue.get()).previous_version for _ in range(WATCH_BACKLOG)]  # type: ignore[union-attr]

    assert asyncio.run(run()) == [f"v{n}" for n in range(WATCH_BACKLOG)]


def test_a_stream_that_fell_behind_ends_with_resource_exhausted(tmp_path: Path) -> None:
    scores = VersionedDir(tmp_path / "scores")
    publish_scores(scores, ["a"], [0.1])
    store = ScoreStore(scores)
    assert store.refresh()

    async def run() -> _Context:
        feed = ChangeFeed(asyncio.get_running_loop())
        context = _Context()
        stream = RiskServicer(store, feed).WatchRiskScores(risk_pb2.WatchRiskScoresRequest(), context)  # type: ignore[arg-type]
        pending = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)  # subscribed, waiting for a swap
        for n in range(WATCH_BACKLOG + 5):  # swaps arrive faster than the stream is read
            feed._publish(_event(n, store.current.info))  # type: ignore[union-attr]
        with pytest.raises(_Aborted):
            await pending  # the backlog it could take, then the end
        assert not feed._queues
        return context

    context = asyncio.run(run())
    assert context.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "resubscribe" in context.details
