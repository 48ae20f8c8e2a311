"""Versioned, atomically published artefact directories.

Every artefact kind (``snapshots``, ``models``, ``scores``) lives in ``HOME/<kind>/vN/`` with a
``manifest.json`` (file checksums plus whatever the producer records) and a ``CURRENT`` file
naming the version readers should use. A producer writes into a hidden staging directory;
only a complete, checksummed, fsynced directory is renamed into place, and ``CURRENT`` is
replaced atomically after that. A crash at any point leaves the previous version current and
intact. Several commands may publish into one directory at once (a scheduled pipeline tick
beside a manual ``ringwatch build``): two lock files keep their versions numbered in the
order they become current, and keep ``prune`` away from staging directories still being written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from ringwatch.errors import IntegrityError, NotFoundError

MANIFEST = "manifest.json"
CURRENT = "CURRENT"
_VERSION_RE = re.compile(r"^v(\d+)$")
_STAGING_LOCK = ".staging.lock"
"""Held shared by every publish while it writes its staging directory; ``prune`` removes
staging directories only when it can take it exclusively (no publish is running, so every
staging directory left is a crashed run's)."""
_PUBLISH_LOCK = ".publish.lock"
"""Held exclusively while a version is numbered, renamed into place and made current."""
_LAST = ".last"
"""The highest version number ever given out: a deleted ``vN``'s number is never reused, so a
server that refused a corrupt ``vN`` is never offered a different set under the same name."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's entries to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(path: Path, mode: int, *, directory: bool = False) -> Iterator[bool]:
    """Hold an ``flock`` on ``path`` (created if absent) for the block; yields whether it was
    taken (always, unless ``mode`` has ``LOCK_NB`` and another holder conflicts). The lock is
    the kernel's: it goes with the process, so a crashed holder never leaves it stuck. With
    ``directory``, ``path`` is an existing directory, locked itself (FileNotFoundError if gone)."""
    # read-only: another user of a shared home can lock it too
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else os.O_CREAT), 0o666)
    try:
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def reading(*dirs: Path | None) -> Iterator[None]:
    """Keep :meth:`VersionedDir.prune` off published version directories while the block reads
    them: each holds a shared lock, and prune deletes a version only when it can lock it
    exclusively (a command scoring, training on, explaining or exporting an older version keeps
    it). ``None`` entries are skipped.

    Raises:
        NotFoundError: A directory was pruned before its lock was taken.
    """
    with ExitStack() as stack:
        for path in dirs:
            if path is None:
                continue
            try:
                stack.enter_context(locked(path, fcntl.LOCK_SH, directory=True))
            except FileNotFoundError:
                pass
            if not (path / MANIFEST).is_file():
                raise NotFoundError(f"{path.parent.name} {path.name} was pruned as it was being opened (under {path.parent}); "
                                    "run again on a version that is still published")
        yield


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync(path.parent)


class VersionedDir:
    """A directory of published versions ``v1, v2, ...`` with a ``CURRENT`` pointer.

    Args:
        root: The artefact directory, e.g. ``HOME/snapshots``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.kind = self.root.name

    def versions(self) -> list[str]:
        """Published versions, oldest first."""
        if not self.root.is_dir():
            return []
        found = [(int(m.group(1)), p.name) for p in self.root.iterdir() if (m := _VERSION_RE.match(p.name))]
        return [name for _, name in sorted(found)]

    def current(self) -> str | None:
        """The current version name, or ``None`` when nothing was published yet."""
        pointer = self.root / CURRENT
        if not pointer.is_file():
            return None
        name = pointer.read_text().strip()
        return name or None

    def path(self, version: str | None = None) -> Path:
        """Directory of ``version`` (default: the current one).

        Raises:
            NotFoundError: When the version does not exist.
        """
        name = version or self.current()
        if name is None:
            raise NotFoundError(f"no {self.kind} published yet under {self.root}; run the step that produces them first")
        if not _VERSION_RE.match(name):
            raise NotFoundError(f"{name!r} is not a version name; expected v<N>, e.g. v1")
        path = self.root / name
        if not (path / MANIFEST).is_file():
            raise NotFoundError(f"{self.kind} {name} not found under {self.root}; published: {', '.join(self.versions()) or 'none'}")
        return path

    @contextmanager
    def reading(self, version: str | None = None) -> Iterator[str]:
        """Hold ``version`` (default: the current one) against :meth:`prune` for the block (see
        :func:`reading`); yields its name, which the block should use from then on (the
        current version may move on meanwhile).

        Raises:
            NotFoundError: When the version does not exist.
        """
        path = self.path(version)
        with reading(path):
            yield path.name

    def manifest(self, version: str | None = None) -> dict[str, Any]:
        """The manifest of ``version`` (default: current).

        Raises:
            IntegrityError: The manifest is not a JSON object with a ``files`` table.
        """
        return self._read_manifest(self.path(version))

    def _read_manifest(self, path: Path) -> dict[str, Any]:
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IntegrityError(f"{self.kind} {path.name}: cannot read its {MANIFEST}: {exc}") from None
        files = manifest.get("files", {}) if isinstance(manifest, dict) else None
        if not isinstance(files, dict) or not all(isinstance(m, dict) and isinstance(m.get("sha256"), str) for m in files.values()):
            raise IntegrityError(f"{self.kind} {path.name}: its {MANIFEST} is not an object whose files each have a sha256")
        return manifest

    def verify(self, version: str | None = None) -> dict[str, Any]:
        """Check every file against the manifest's checksums and return the manifest.

        Raises:
            IntegrityError: When a file is missing or its checksum differs.
        """
        path = self.path(version)
        manifest = self._read_manifest(path)
        for rel, meta in manifest.get("files", {}).items():
            f = path / rel
            if not f.is_file():
                raise IntegrityError(f"{self.kind} {path.name}: file {rel} listed in the manifest is missing")
            if sha256_file(f) != meta["sha256"]:
                raise IntegrityError(f"{self.kind} {path.name}: checksum mismatch for {rel}; the version is corrupt")
        return manifest

    def _next_number(self) -> int:
        numbers = [int(v[1:]) for v in self.versions()]
        last = self.root / _LAST
        text = last.read_text().strip() if last.is_file() else ""
        given = int(text) if text.isdigit() else 0  # unreadable: the versions on disk decide, as before it was kept
        return max(numbers + [given]) + 1

    @contextmanager
    def publish(self, manifest: dict[str, Any] | None = None, make_current: bool = True) -> Iterator[Path]:
        """Stage a new version; publish it only if the block finishes without error.

        The block writes files into the yielded staging directory and may add entries to
        ``manifest`` (a dict it passed in). On success the files are checksummed, the
        manifest written, the directory renamed to the next ``vN`` and ``CURRENT`` switched.
        The final version name is stored in ``manifest["version"]``.

        Args:
            manifest: Extra manifest fields; mutated to add ``version``, ``files`` and
                ``created_at``.
            make_current: Switch ``CURRENT`` to the new version.

        Yields:
            The staging directory to write into.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        manifest = manifest if manifest is not None else {}
        with locked(self.root / _STAGING_LOCK, fcntl.LOCK_SH):
            staging = self.root / f".staging-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                yield staging
                files: dict[str, dict[str, Any]] = {}
                for f in sorted(p for p in staging.rglob("*") if p.is_file()):
                    rel = f.relative_to(staging).as_posix()
                    files[rel] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
                    _fsync(f)  # CURRENT must never name a version whose data a power cut lost
                manifest["files"] = files
                manifest["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                with locked(self.root / _PUBLISH_LOCK, fcntl.LOCK_EX):
                    self._place(staging, manifest, make_current)
            finally:
                if staging.exists():
                    shutil.rmtree(staging, ignore_errors=True)

    def _place(self, staging: Path, manifest: dict[str, Any], make_current: bool) -> None:
        """Number, rename and (``make_current``) point ``CURRENT`` at a complete staging
        directory; the caller holds the publish lock, so versions become current in number order."""
        while True:
            number = self._next_number()
            manifest["version"] = f"v{number}"
            write_atomic(staging / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str))
            for d in [p for p in staging.rglob("*") if p.is_dir()] + [staging]:
                _fsync(d)
            target = self.root / f"v{number}"
            try:
                os.rename(staging, target)
                break
            except OSError:
                if not target.exists():  # a writer without the lock (an older release) took the number
                    raise
        _fsync(self.root)
        write_atomic(self.root / _LAST, f"{number}\n")
        if make_current:
            write_atomic(self.root / CURRENT, manifest["version"] + "\n")

    def set_current(self, version: str) -> None:
        """Point ``CURRENT`` at an existing, verified version (e.g. a rollback)."""
        self.verify(version)
        self.root.mkdir(parents=True, exist_ok=True)
        with locked(self.root / _PUBLISH_LOCK, fcntl.LOCK_EX):
            write_atomic(self.root / CURRENT, version + "\n")

    def prune(self, keep: int, in_use: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Delete all but the newest ``keep`` versions, never the current one, those ``in_use``
        nor those a command is reading (:meth:`reading`); and the staging directories of crashed
        runs, when no publish is running.

        Args:
            keep: Newest versions kept.
            in_use: Versions another artefact still depends on (the snapshot and model the
                current scores were made from; see :meth:`Home.in_use`).

        Returns:
            The versions removed.
        """
        if not self.root.is_dir():
            return []
        current = self.current()
        candidates = [v for v in self.versions()[:-keep] if v != current and v not in in_use] if keep > 0 else []
        removable = []
        for v in candidates:
            try:
                with locked(self.root / v, fcntl.LOCK_EX | fcntl.LOCK_NB, directory=True) as unread:
                    if unread:
                        shutil.rmtree(self.root / v, ignore_errors=True)
                        removable.append(v)
            except FileNotFoundError:  # another prune got there first
                continue
        with locked(self.root / _STAGING_LOCK, fcntl.LOCK_EX | fcntl.LOCK_NB) as alone:
            if alone:  # else a publish is writing its staging directory: leave them all for a later prune
                for stale in self.root.glob(".staging-*"):
                    shutil.rmtree(stale, ignore_errors=True)
        return removable


class Home:
    """The storage layout under ``RINGWATCH_HOME`` (see DESIGN.md, Storage).

    Args:
        root: The home directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def events(self) -> Path:
        return self.root / "events"

    @property
    def labels(self) -> Path:
        return self.root / "labels"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def run(self) -> Path:
        """Pid files and logs of background services."""
        return self.root / "run"

    @property
    def neo4j(self) -> Path:
        return self.root / "neo4j"

    @property
    def snapshots(self) -> VersionedDir:
        return VersionedDir(self.root / "snapshots")

    @property
    def models(self) -> VersionedDir:
        return VersionedDir(self.root / "models")

    @property
    def scores(self) -> VersionedDir:
        return VersionedDir(self.root / "scores")

    def in_use(self) -> dict[str, set[str]]:
        """Per artefact kind, the versions the current model and score set were made from, which
        pruning must keep (``ringwatch explain`` and ``neo4j export`` read a score set's own
        snapshot and model): ``{"snapshots": {...}, "models": {...}}``."""
        used: dict[str, set[str]] = {"snapshots": set(), "models": set()}
        for kind in (self.models, self.scores):
            if kind.current() is None:
                continue
            try:
                manifest = kind.manifest()
            except (NotFoundError, ValueError):  # a missing or unreadable manifest names nothing
                continue
            for key, into in (("snapshot_version", "snapshots"), ("model_version", "models")):
                if isinstance(manifest.get(key), str):
                    used[into].add(manifest[key])
        return used
