"""Versioned publishing: atomic, checksummed, crash-safe."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringwatch.errors import IntegrityError, NotFoundError
from ringwatch.versions import VersionedDir


def _publish(vd: VersionedDir, text: str) -> str:
    manifest: dict[str, object] = {"note": text}
    with vd.publish(manifest) as staging:
        (staging / "data.txt").write_text(text)
    return str(manifest["version"])


def test_publish_numbers_versions_and_moves_current(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "scores")
    assert vd.current() is None
    assert _publish(vd, "a") == "v1"
    assert _publish(vd, "b") == "v2"
    assert vd.current() == "v2"
    assert (vd.path() / "data.txt").read_text() == "b"
    assert vd.verify()["files"]["data.txt"]["bytes"] == 1


def test_crash_inside_publish_keeps_previous_version(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "snapshots")
    _publish(vd, "good")
    with pytest.raises(RuntimeError):
        with vd.publish({}) as staging:
            (staging / "data.txt").write_text("half")
            raise RuntimeError("crash mid-publish")
    assert vd.current() == "v1"
    assert vd.versions() == ["v1"]
    assert (vd.path() / "data.txt").read_text() == "good"
    assert not list(vd.root.glob(".staging-*"))


def test_corrupt_file_fails_verification(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "models")
    _publish(vd, "weights")
    (vd.path() / "data.txt").write_text("tampered")
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        vd.verify()


def test_missing_version_names_what_exists(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "models")
    with pytest.raises(NotFoundError, match="no models published"):
        vd.path()
    _publish(vd, "x")
    with pytest.raises(NotFoundError, match="published: v1"):
        vd.path("v9")
    with pytest.raises(NotFoundError, match="not a version name"):
        vd.path("../etc")


def test_prune_keeps_newest_and_current(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "scores")
    for t in "abcd":
        _publish(vd, t)
    vd.set_current("v2")
    removed = vd.prune(keep=1)
    assert removed == ["v1", "v3"]
    assert vd.versions() == ["v2", "v4"]
