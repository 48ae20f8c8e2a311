"""Versioned publishing: atomic, checksummed, crash-safe."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ringwatch import versions
from ringwatch.errors import IntegrityError, NotFoundError
from ringwatch.versions import Home, VersionedDir, reading


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


def test_prune_leaves_a_version_being_read_until_its_reader_is_done(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "snapshots")
    for t in "abc":
        _publish(vd, t)
    with vd.reading("v1") as name:  # e.g. `ringwatch score --snapshot v1` loading it
        assert name == "v1"
        assert vd.prune(keep=1) == ["v2"]
        assert (vd.path("v1") / "data.txt").read_text() == "a"
    assert vd.prune(keep=1) == ["v1"] and vd.versions() == ["v3"]
    with pytest.raises(NotFoundError, match="v1 not found"):
        with vd.reading("v1"):
            pass
    assert not (vd.root / "v1").exists()  # asking for a pruned version leaves nothing behind


def test_a_version_pruned_as_it_is_opened_is_a_clear_error(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "snapshots")
    _publish(vd, "a")
    path = vd.path("v1")
    shutil.rmtree(path)  # pruned between finding the version and locking it
    with pytest.raises(NotFoundError, match="pruned as it was being opened"):
        with reading(path):
            pass
    assert not path.exists()


def test_prune_keeps_what_the_current_scores_were_made_from(tmp_path: Path) -> None:
    home = Home(tmp_path)
    for t in "abc":
        _publish(home.snapshots, t)
    with home.models.publish({"snapshot_version": "v1"}) as staging:
        (staging / "m").write_text("model")
    with home.scores.publish({"snapshot_version": "v2", "model_version": "v1"}) as staging:
        (staging / "s").write_text("scores")
    assert home.in_use() == {"snapshots": {"v1", "v2"}, "models": {"v1"}}
    assert home.snapshots.prune(keep=1, in_use=home.in_use()["snapshots"]) == []
    assert home.snapshots.prune(keep=1) == ["v1", "v2"]  # nothing said to keep them


def test_prune_leaves_a_running_publish_alone(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "snapshots")
    (vd.root / ".staging-crashed").mkdir(parents=True)  # a killed run's leftovers
    with vd.publish({}) as staging:
        (staging / "part-0").write_text("0")
        VersionedDir(vd.root).prune(keep=5)  # another command, mid-way through this publish
        assert staging.is_dir() and (vd.root / ".staging-crashed").is_dir()
        (staging / "part-1").write_text("1")
    assert sorted(vd.verify()["files"]) == ["part-0", "part-1"]
    vd.prune(keep=5)  # no publish running now: the leftovers go
    assert not list(vd.root.glob(".staging-*"))


def test_concurrent_publishes_become_current_in_number_order(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "scores")
    with ThreadPoolExecutor(4) as pool:
        names = list(pool.map(lambda t: _publish(VersionedDir(vd.root), str(t)), range(12)))
    assert sorted(names, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(1, 13)]
    assert vd.current() == "v12"


def test_a_deleted_versions_number_is_never_given_again(tmp_path: Path) -> None:
    vd = VersionedDir(tmp_path / "scores")
    _publish(vd, "a")
    _publish(vd, "b")
    vd.set_current("v1")
    shutil.rmtree(vd.root / "v2")  # refused by a server as corrupt, removed by the operator
    assert _publish(vd, "c") == "v3"  # a server that refused v2 is offered a new name


def test_published_files_are_synced_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vd = VersionedDir(tmp_path / "models")
    synced: list[Path] = []
    real = versions._fsync
    monkeypatch.setattr(versions, "_fsync", lambda p: (synced.append(Path(p)), real(p)))
    with vd.publish({}) as staging:
        (staging / "sub").mkdir()
        (staging / "a.bin").write_bytes(b"a")
        (staging / "sub" / "b.bin").write_bytes(b"b")
    staged = {p.relative_to(staging).as_posix() for p in synced if p.is_relative_to(staging)}
    assert {"a.bin", "sub/b.bin", "sub", "."} <= staged  # the files and their folders, while still staged
