"""Lifecycle of the embedded Neo4j: jars, start, connect, port taken, kill and restart, NEO4J_URI."""

from __future__ import annotations

import os
import signal
import socket
import stat
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from ringwatch.errors import ConfigError, ServiceError
from ringwatch.settings import Settings
from ringwatch.versions import Home
from services import neo4j_export, neo4j_server
from services.processes import terminate
from tests.services.conftest import free_port, publish_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.neo4j]


def test_ensure_jars_is_idempotent() -> None:
    first = neo4j_server.ensure_jars()
    t0 = time.monotonic()
    assert neo4j_server.ensure_jars() == first
    assert time.monotonic() - t0 < 1.0
    assert any((neo4j_server.LAUNCHER_DIR / "lib").glob("neo4j-5.26.*.jar"))


def test_running_server_answers_cypher(neo4j_home: Path, neo4j_settings: Settings) -> None:
    info = neo4j_server.status(neo4j_home)
    assert info.running and info.embedded and info.uri.startswith("bolt://127.0.0.1:")
    assert stat.S_IMODE((neo4j_home / "neo4j" / "password").stat().st_mode) == 0o600
    with neo4j_server.connect(neo4j_settings) as driver:
        records = driver.execute_query("RETURN $x + 1 AS y", {"x": 41}).records
        assert records[0]["y"] == 42
        edition = driver.execute_query("CALL dbms.components() YIELD name, versions, edition RETURN versions[0] AS v, edition AS e").records[0]
        assert edition["v"].startswith("5.26.") and edition["e"] == "community"
    again = neo4j_server.start(neo4j_home, info.port or 0)
    assert again.pid == info.pid and "already running" in again.message


def test_wrong_password_and_external_uri(neo4j_home: Path) -> None:
    info = neo4j_server.status(neo4j_home)
    password = (neo4j_home / "neo4j" / "password").read_text().strip()
    external = Settings(home=neo4j_home / "elsewhere", neo4j_uri=info.uri, neo4j_password=password)
    assert neo4j_server.external_server(external) is not None
    with neo4j_server.connect(external) as driver:
        assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1
    with pytest.raises(ServiceError, match="rejected the credentials"):
        neo4j_server.connect(Settings(home=neo4j_home, neo4j_uri=info.uri, neo4j_password="not-the-password"))
    with pytest.raises(ServiceError, match="NEO4J_PASSWORD is not set"):
        neo4j_server.connect(Settings(home=neo4j_home, neo4j_uri=info.uri, neo4j_password=None))


def test_start_on_another_port_than_the_running_one_is_refused(neo4j_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from ringwatch.cli import app, common

    info = neo4j_server.status(neo4j_home)
    monkeypatch.setenv("RINGWATCH_HOME", str(neo4j_home))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    common.settings.cache_clear()
    try:
        same = CliRunner().invoke(app, ["neo4j", "start", "--port", str(info.port)])
        assert same.exit_code == 0, same.output
        other = CliRunner().invoke(app, ["neo4j", "start", "--port", str(info.port + 1 if info.port < 65535 else 1024)])
        assert isinstance(other.exception, ServiceError) and f"already runs on port {info.port}" in str(other.exception)
        assert neo4j_server.status(neo4j_home).pid == info.pid  # left running as it was
    finally:
        common.settings.cache_clear()


def test_connect_when_not_running(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="not running"):
        neo4j_server.connect(Settings(home=tmp_path, neo4j_uri=None))
    assert neo4j_server.stop(tmp_path).message == "not running"


def test_port_taken_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        port = squatter.getsockname()[1]
        with pytest.raises(ServiceError, match=f"port 127.0.0.1:{port} is already in use"):
            neo4j_server.start(tmp_path, port)
    assert not neo4j_server.status(tmp_path).running


@pytest.mark.parametrize("port", [0, -1, 70000])
def test_a_port_outside_1_to_65535_is_a_clear_error(tmp_path: Path, port: int) -> None:
    """Port 0 would start a server at a port no client knows; 70000 was an OverflowError traceback."""
    with pytest.raises(ConfigError, match=f"between 1 and 65535, got {port}"):
        neo4j_server.start(tmp_path, port)
    assert not neo4j_server.status(tmp_path).running
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, neo4j_bolt_port=port)


def test_kill_mid_export_then_restart_and_complete(tmp_path: Path) -> None:
    """SIGKILL during an export → clear error; restart recovers; re-export completes without duplicates."""
    home = tmp_path / "home"
    n = 6000
    accounts = [f"acct{i:05d}" for i in range(n)]
    follows = [(accounts[i], accounts[(i * 7 + 1) % n], 1) for i in range(n)]
    likes = [(accounts[i], accounts[(i * 13 + 5) % n], 2) for i in range(n)]
    devices = [(a, f"dev{i % 500}", 1) for i, a in enumerate(accounts)]
    publish_snapshot(home, accounts, {"follow": follows, "like": likes}, devices)
    snap_dir = Home(home).snapshots.path()

    port = free_port()
    info = neo4j_server.start(home, port)
    settings = Settings(home=home, neo4j_uri=None)
    try:
        killer = threading.Timer(1.5, os.kill, (info.pid, signal.SIGKILL))
        with neo4j_server.connect(settings) as driver:
            killer.start()
            with pytest.raises(ServiceError, match="re-run"):
                neo4j_export.export(driver, snap_dir, None, batch_size=50)
        killer.join()
        time.sleep(0.5)
        assert not neo4j_server.status(home).running, "a dead server must not look alive (stale pidfile)"

        restarted = neo4j_server.start(home, port)
        assert restarted.running and restarted.pid != info.pid
        with neo4j_server.connect(settings) as driver:
            report = neo4j_export.export(driver, snap_dir, None)
            again = neo4j_export.export(driver, snap_dir, None)
        assert report.nodes["Account"] == n and report.nodes["Device"] == 500
        assert report.relationships == {"FOLLOW": n, "LIKE": n, "USES_DEVICE": n}
        assert again.relationships == report.relationships
    finally:
        stopped = neo4j_server.stop(home)
    assert stopped.message.startswith("stopped"), stopped.message
    assert not (home / "neo4j" / "neo4j.pid").exists()
    assert "STOPPED" in (home / "neo4j" / "neo4j.log").read_text()


def test_two_starts_at_once_share_one_server_found_by_any_spelling_of_the_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "home")
    monkeypatch.chdir(tmp_path)  # relative homes: the JVM runs in its own folder, so they must not reach it relative
    port = free_port()
    started: list[neo4j_server.Neo4jServer] = []
    errors: list[BaseException] = []

    def start(home: Path) -> None:
        try:
            started.append(neo4j_server.start(home, port))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(Path(h),)) for h in ("home", "link")]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert errors == [] and len(started) == 2 and started[0].pid == started[1].pid
        assert any("already running" in s.message for s in started)
        through_link = neo4j_server.status(Path("link"))  # another spelling: the same live server, state kept
        assert through_link.running and through_link.pid == started[0].pid
        assert (tmp_path / "home" / "neo4j" / "neo4j.pid").exists()
    finally:
        stopped = neo4j_server.stop(tmp_path / "home")
    assert stopped.message.startswith("stopped"), stopped.message


def test_a_server_another_user_runs_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", refuse)  # a shared home: the launcher belongs to someone else
    with pytest.raises(ServiceError, match="cannot stop Neo4j \\(pid 12345\\): it runs as another user"):
        terminate(12345, 1.0, "Neo4j")
