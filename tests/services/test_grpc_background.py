"""The settings-level lifecycle the CLI and demo use: start/stop in the background, SIGTERM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ringwatch.errors import NotFoundError, ServiceError
from ringwatch.settings import Settings
from ringwatch.versions import Home
from services.grpc_server import address_of, background_status, health_status, start_background, stop_background
from services.risk_client import RiskClient
from tests.services.score_sets import publish_scores

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", grpc_port=0)


def test_no_scores_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="no scores published"):
        start_background(settings, 0)
    cli = subprocess.run(
        [sys.executable, "-c", "from ringwatch.cli import main; main()", "serve", "--port", "0"],
        env={"RINGWATCH_HOME": str(settings.home), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
    )
    assert cli.returncode != 0 and "no scores published" in cli.stderr and "Traceback" not in cli.stderr


def test_start_query_stop(settings: Settings) -> None:
    publish_scores(Home(settings.home).scores, ["a", "b"], [0.1, 0.9])
    port = start_background(settings, 0, metrics_port=0)
    try:
        state = background_status(settings)
        assert state is not None and state["port"] == port and state["metrics_port"]
        with RiskClient(f"127.0.0.1:{port}") as client:
            assert client.get("b").level == "CRITICAL"
        with pytest.raises(ServiceError, match="already running"):
            start_background(settings, 0)
        log = (Home(settings.home).run / "grpc.log").read_text()
        assert "serving score set v1" in log
    finally:
        assert stop_background(settings) is True  # SIGTERM: graceful drain
    assert background_status(settings) is None
    assert health_status(f"127.0.0.1:{port}", timeout_s=0.5) == "UNREACHABLE"
    assert "shutting down" in (Home(settings.home).run / "grpc.log").read_text()
    assert stop_background(settings) is False


def test_taken_port_is_reported(settings: Settings) -> None:
    import socket

    publish_scores(Home(settings.home).scores, ["a"], [0.1])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(ServiceError, match="cannot listen|exited"):
            start_background(settings, sock.getsockname()[1], timeout_s=30)


def test_a_failed_start_quotes_its_own_errors_not_an_earlier_runs(settings: Settings) -> None:
    import socket

    publish_scores(Home(settings.home).scores, ["a"], [0.1])
    log = settings.home / "run" / "grpc.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("error: cannot listen on 127.0.0.1:50777 (an earlier run)\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(ServiceError) as info:
            start_background(settings, 0, metrics_port=sock.getsockname()[1], timeout_s=30)
    assert "cannot serve metrics" in str(info.value) and "50777" not in str(info.value)


def test_a_taken_metrics_port_is_one_clear_line(settings: Settings) -> None:
    import socket

    publish_scores(Home(settings.home).scores, ["a"], [0.1])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        cli = subprocess.run(
            [sys.executable, "-c", "from ringwatch.cli import main; main()", "serve", "--port", "0",
             "--metrics-port", str(sock.getsockname()[1])],
            env={"RINGWATCH_HOME": str(settings.home), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
        )
    out = cli.stdout + cli.stderr
    assert cli.returncode == 1 and "cannot serve metrics on 127.0.0.1" in out and "--metrics-port" in out
    assert "Traceback" not in out and "never awaited" not in out


def test_workers_with_metrics_port_zero_each_get_a_free_port(settings: Settings) -> None:
    publish_scores(Home(settings.home).scores, ["a"], [0.1])
    port = start_background(settings, 0, metrics_port=0, workers=2, timeout_s=120)
    try:
        state = background_status(settings)
        assert state is not None and state["port"] == port
        ports = state["metrics_ports"]
        assert len(ports) == 2 and len(set(ports)) == 2 and all(p > 1024 for p in ports)
        assert state["metrics_port"] == ports[0]
    finally:
        assert stop_background(settings) is True


def test_detached_tls_with_a_certificate_for_the_services_name(settings: Settings, tmp_path: Path) -> None:
    from tests.services.test_grpc_security import self_signed

    publish_scores(Home(settings.home).scores, ["a", "b"], [0.1, 0.9])
    cert, key = self_signed(tmp_path, "svc", dns_name="risk.internal", loopback_ip=False)  # not 127.0.0.1
    port = start_background(settings, 0, tls_cert=cert, tls_key=key, timeout_s=60)
    try:
        with RiskClient(f"127.0.0.1:{port}", root_cert=cert, server_name="risk.internal") as client:
            assert client.get("b").level == "CRITICAL"
    finally:
        assert stop_background(settings) is True


def test_addresses_bracket_ipv6_hosts() -> None:
    assert address_of("127.0.0.1", 50051) == "127.0.0.1:50051"
    assert address_of("::1", 50051) == "[::1]:50051" and address_of("[::1]", 7) == "[::1]:7"
