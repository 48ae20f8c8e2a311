"""Score store: loading, lookups, hot swap, refusal of corrupt versions."""

from __future__ import annotations

import json
import logging
import math
import threading
from pathlib import Path

import numpy as np
import pytest

from ringwatch.errors import IntegrityError, NotFoundError
from ringwatch.types import MAX_ID_CHARS, is_valid_id
from ringwatch.v1 import risk_pb2
from ringwatch.versions import VersionedDir
from services.score_store import (
    LEVEL_CODES,
    RelatedRing,
    ScoreStore,
    diff_levels,
    load_snapshot,
)
from tests.services.score_sets import corrupt, publish_scores


@pytest.fixture
def scores(tmp_path: Path) -> VersionedDir:
    return VersionedDir(tmp_path / "scores")


def _publish_basic(scores: VersionedDir, **kw) -> str:
    return publish_scores(
        scores,
        ["b", "a", "c", "ü-unicode", "x" * 20],
        [0.1, 0.9, 0.5, 0.3, 0.7],
        ring_ids=[None, "r1", "r1", None, None],
        rings=[{"ring_id": "r1", "size": 2, "density": 1.0, "mean_risk": 0.7, "ring_score": 0.8, "members": ["a", "c"]}],
        explanations=[{"account_id": "a", "reasons": '["shares a device with c"]',
                       "top_neighbors": '[{"account_id": "c", "relation": "shared_device", "weight": 0.6}]'}],
        **kw,
    )


def test_level_codes_match_proto_enum() -> None:
    for name, code in LEVEL_CODES.items():
        assert risk_pb2.RiskLevel.Value(f"RISK_LEVEL_{name}") == code


@pytest.mark.parametrize("cache", [False, True])
def test_load_and_lookup(scores: VersionedDir, tmp_path: Path, cache: bool) -> None:
    _publish_basic(scores)
    snap = load_snapshot(scores, cache_root=tmp_path / "cache" if cache else None)
    assert len(snap) == 5
    assert snap.info.score_version == "v1" and snap.info.model_version == "m1" and snap.info.snapshot_version == "s1"
    assert snap.info.scored_at is not None and snap.info.scored_at.year == 2025
    rec = snap.get("a")
    assert rec.level == "CRITICAL" and math.isclose(rec.risk, 0.9, rel_tol=1e-6) and rec.ring_id == "r1"
    assert rec.reasons == ("reason of a",)
    assert snap.get("b").ring_id is None
    assert snap.get("ü-unicode").level == "MEDIUM"
    with pytest.raises(NotFoundError):
        snap.get("zz")
    if cache:
        assert isinstance(snap.risk, np.memmap)
        again = load_snapshot(scores, cache_root=tmp_path / "cache")  # from the cache
        assert again.get("c").risk == snap.get("c").risk


def test_find_many_is_exact(scores: VersionedDir) -> None:
    _publish_basic(scores)
    snap = load_snapshot(scores)
    long_prefix = "x" * 20 + "tail"  # truncates to a stored id at the array's width
    rows = snap.find_many(["a", "missing", "x" * 20, long_prefix, "", "a", "ü-unicode"])
    assert [snap.ids[r] if r >= 0 else None for r in rows] == ["a", None, "x" * 20, None, None, "a", "ü-unicode"]
    assert snap.find_many([]).shape == (0,)


def test_explanation_and_rings(scores: VersionedDir) -> None:
    _publish_basic(scores)
    snap = load_snapshot(scores)
    reasons, neighbors = snap.explanation("a")
    assert reasons == ("shares a device with c",)
    assert neighbors[0].account_id == "c" and neighbors[0].relation == "shared_device"
    assert snap.explanation("b") == (("reason of b",), ())  # falls back to the score's reasons
    ring = snap.ring("r1")
    assert ring.members == ("a", "c") and ring.size == 2
    assert math.isnan(ring.synchrony)  # a rings table from before synchrony was measured
    assert ring.related == ()  # nor related rings listed
    with pytest.raises(NotFoundError):
        snap.ring("nope")


def test_related_rings_are_read_in_order(scores: VersionedDir) -> None:
    ring = {"ring_id": "r1", "size": 2, "density": 1.0, "mean_risk": 0.7, "ring_score": 0.8, "members": ["a", "c"],
            "related": ["r7", "r2"], "related_links": [12, 2]}
    lone = {**ring, "ring_id": "r2", "members": ["b"], "related": [], "related_links": []}
    publish_scores(scores, ["a", "b", "c"], [0.9, 0.1, 0.5], ring_ids=["r1", "r2", "r1"], rings=[ring, lone])
    snap = load_snapshot(scores)
    assert snap.ring("r1").related == (RelatedRing("r7", 12), RelatedRing("r2", 2))
    assert snap.ring("r2").related == ()


def test_related_rings_that_are_not_parallel_lists_refuse_the_score_set(scores: VersionedDir) -> None:
    ring = {"ring_id": "r1", "size": 2, "density": 1.0, "mean_risk": 0.7, "ring_score": 0.8, "members": ["a", "c"],
            "related": ["r7", "r2"], "related_links": [12]}
    publish_scores(scores, ["a", "c"], [0.9, 0.5], ring_ids=["r1", "r1"], rings=[ring])
    with pytest.raises(IntegrityError, match="ring 'r1' has 2 related ring id"):
        load_snapshot(scores)


def test_absent_optional_tables(scores: VersionedDir) -> None:
    publish_scores(scores, ["a"], [0.5])
    snap = load_snapshot(scores)
    assert snap.explanation("a") == (("reason of a",), ())
    with pytest.raises(NotFoundError):
        snap.ring("r1")


def test_unsorted_input_is_sorted(scores: VersionedDir) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with scores.publish({"model_version": "m", "snapshot_version": "s"}) as staging:
        pq.write_table(pa.table({"account_id": ["c", "a", "b"], "risk": pa.array([0.1, 0.2, 0.3], pa.float32()),
                                 "level": ["LOW"] * 3, "ring_id": pa.array([None] * 3, pa.string()),
                                 "reasons": ["[]"] * 3}), staging / "scores.parquet")
    snap = load_snapshot(scores)
    assert math.isclose(snap.get("a").risk, 0.2, rel_tol=1e-6) and math.isclose(snap.get("c").risk, 0.1, rel_tol=1e-6)


def test_bad_level_is_integrity_error(scores: VersionedDir) -> None:
    publish_scores(scores, ["a"], [0.5], levels=["SEVERE"])
    with pytest.raises(IntegrityError):
        load_snapshot(scores)


def test_valid_ids() -> None:
    assert is_valid_id("acct-1") and is_valid_id("a b") and is_valid_id("ü")
    assert not is_valid_id("") and not is_valid_id("a\nb") and not is_valid_id("x" * (MAX_ID_CHARS + 1))
    assert not is_valid_id(7)


def test_refresh_swaps_and_refuses_corrupt(scores: VersionedDir, tmp_path: Path) -> None:
    store = ScoreStore(scores, cache_root=tmp_path / "cache")
    assert store.current is None and store.refresh() is False  # nothing published
    publish_scores(scores, ["a", "b"], [0.1, 0.2])
    assert store.refresh() is True
    first = store.current
    assert first is not None and first.info.score_version == "v1"
    assert store.refresh() is False  # unchanged

    swaps: list[tuple[str | None, str]] = []
    store.add_listener(lambda old, new: swaps.append((old.info.score_version if old else None, new.info.score_version)))
    publish_scores(scores, ["a", "b"], [0.9, 0.2])
    assert store.refresh() is True and store.current.info.score_version == "v2"
    assert swaps == [("v1", "v2")]
    assert first.get("a").level == "LOW"  # a holder of the old snapshot still reads the old scores

    v3 = publish_scores(scores, ["a", "b"], [0.5, 0.5])
    corrupt(scores, v3)
    assert store.refresh() is False
    assert store.current.info.score_version == "v2" and "checksum" in (store.last_error or "")
    assert store.refresh() is False  # not retried until CURRENT changes
    publish_scores(scores, ["a", "b"], [0.5, 0.6])
    assert store.refresh() is True and store.current.info.score_version == "v4" and store.last_error is None


def test_a_broken_manifest_or_a_copied_set_is_refused_once_with_a_clear_error(scores: VersionedDir) -> None:
    store = ScoreStore(scores)
    publish_scores(scores, ["a", "b"], [0.1, 0.2])
    assert store.refresh() is True
    v2 = publish_scores(scores, ["a", "b"], [0.9, 0.2])
    (scores.root / v2 / "manifest.json").write_text('{"version": "v2", "files": {')  # hand-edited, cut short
    assert store.refresh() is False
    assert store.current.info.score_version == "v1" and "cannot read its manifest.json" in (store.last_error or "")
    assert store.refresh() is False  # refused: not re-read every poll
    with pytest.raises(IntegrityError, match="manifest"):
        scores.manifest(v2)

    (scores.root / "v7").mkdir()  # v1 copied in as v7, with its manifest still saying v1
    for f in (scores.root / "v1").iterdir():
        (scores.root / "v7" / f.name).write_bytes(f.read_bytes())
    (scores.root / "CURRENT").write_text("v7\n")
    assert store.refresh() is False and "names version 'v1'" in (store.last_error or "")
    assert store.refresh() is False  # no reload and swap on every poll
    assert store.current.info.score_version == "v1"


def test_the_manifests_warnings_are_loaded_logged_and_passed_to_the_edge(scores: VersionedDir, tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    store = ScoreStore(scores, cache_root=tmp_path / "cache")
    publish_scores(scores, ["a", "b"], [0.1, 0.2])  # a manifest from before scoring wrote warnings
    assert store.refresh() and store.current.info.warnings == ()
    assert json.loads(store.pointer_path.read_text())["warnings"] == []
    drift = "31.0% of the accounts are at MEDIUM or above against 9.8% on the training platform"
    with caplog.at_level(logging.WARNING, logger="services.score_store"):
        publish_scores(scores, ["a", "b"], [0.1, 0.2], warnings=[drift])
        assert store.refresh()
    assert store.current.info.warnings == (drift,)
    assert json.loads(store.pointer_path.read_text())["warnings"] == [drift]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [f"score set v2: {drift}"]
    publish_scores(scores, ["a", "b"], [0.1, 0.2], warnings=drift)  # one sentence, not a list: one warning, not one per letter
    assert store.refresh() and store.current.info.warnings == (drift,)


def test_watcher_thread_picks_up_new_version(scores: VersionedDir) -> None:
    publish_scores(scores, ["a"], [0.1])
    store = ScoreStore(scores)
    store.refresh()
    swapped = threading.Event()
    store.add_listener(lambda old, new: swapped.set())
    store.start_watcher(interval_s=0.05)
    try:
        publish_scores(scores, ["a"], [0.9])
        assert swapped.wait(5)
        assert store.current.info.score_version == "v2"
    finally:
        store.stop_watcher()


def test_diff_levels(scores: VersionedDir) -> None:
    publish_scores(scores, ["a", "b", "c"], [0.1, 0.9, 0.5])
    old = load_snapshot(scores)
    publish_scores(scores, ["a", "b", "c"], [0.95, 0.9, 0.6])
    same_ids = diff_levels(old, load_snapshot(scores))
    assert same_ids.account_ids.tolist() == ["a"] and same_ids.previous_levels.tolist() == [1] and same_ids.levels.tolist() == [4]
    publish_scores(scores, ["a", "d"], [0.1, 0.3])
    changed = diff_levels(old, load_snapshot(scores))
    assert dict(zip(changed.account_ids.tolist(), zip(changed.previous_levels.tolist(), changed.levels.tolist()))) == {
        "d": (0, 2), "b": (4, 0), "c": (3, 0),
    }


def test_an_operating_system_error_is_retried_not_held_against_the_set(scores: VersionedDir,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from services import score_store

    publish_scores(scores, ["a", "b"], [0.1, 0.2])
    real = score_store.load_snapshot
    failures = iter([OSError(28, "No space left on device")])

    def flaky(*args: object, **kw: object) -> object:
        for exc in failures:
            raise exc
        return real(*args, **kw)

    monkeypatch.setattr(score_store, "load_snapshot", flaky)
    store = ScoreStore(scores)
    assert store.refresh() is False and "No space left" in (store.last_error or "")
    assert store.refresh() is True and store.current.info.score_version == "v1"  # the disk was freed: it loads
