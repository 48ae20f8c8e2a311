"""TLS and bearer-token auth, accepted and refused, against real servers."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ringwatch.errors import ConfigError
from ringwatch.v1 import risk_pb2, risk_pb2_grpc
from ringwatch.versions import VersionedDir
from services.auth import bearer_metadata
from services.grpc_server import ServerOptions, ServerThread
from services.metrics import ServiceMetrics
from services.risk_client import RiskClient, RiskServiceError
from services.score_store import ScoreStore
from tests.services.score_sets import publish_scores

pytestmark = pytest.mark.integration


def self_signed(directory: Path, name: str, dns_name: str = "localhost", loopback_ip: bool = True) -> tuple[Path, Path]:
    """A self-signed certificate for ``dns_name`` (and 127.0.0.1); returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]
                                                    + ([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))] if loopback_ip else [])), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def store(tmp_path: Path) -> ScoreStore:
    scores = VersionedDir(tmp_path / "scores")
    publish_scores(scores, ["a", "b"], [0.2, 0.8])
    store = ScoreStore(scores)
    store.refresh()
    return store


@pytest.fixture
def tls_server(store: ScoreStore, tmp_path: Path) -> Iterator[tuple[ServerThread, Path]]:
    cert, key = self_signed(tmp_path, "server")
    srv = ServerThread("127.0.0.1:0", store, ServerOptions(tls_cert=cert, tls_key=key)).start()
    try:
        yield srv, cert
    finally:
        srv.stop()


def test_tls_accepted_with_the_right_root(tls_server: tuple[ServerThread, Path]) -> None:
    srv, cert = tls_server
    with RiskClient(f"127.0.0.1:{srv.port}", root_cert=cert, timeout_s=5) as c:
        assert c.get("b").level == "CRITICAL"


def test_tls_refused_for_plaintext_and_untrusted_roots(tls_server: tuple[ServerThread, Path], tmp_path: Path) -> None:
    srv, _ = tls_server
    with RiskClient(f"127.0.0.1:{srv.port}", timeout_s=2, max_attempts=1) as plain:
        with pytest.raises(RiskServiceError) as info:
            plain.get("b")
        assert info.value.code == grpc.StatusCode.UNAVAILABLE
    other, _ = self_signed(tmp_path, "other")
    with RiskClient(f"127.0.0.1:{srv.port}", root_cert=other, timeout_s=2, max_attempts=1) as untrusted:
        with pytest.raises(RiskServiceError) as info:
            untrusted.get("b")
        assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_tls_options_need_both_files(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path, "x")
    with pytest.raises(ConfigError):
        ServerOptions(tls_cert=cert)
    with pytest.raises(ConfigError):
        ServerOptions(tls_cert=cert, tls_key=tmp_path / "missing.key")


@pytest.fixture
def token_server(store: ScoreStore) -> Iterator[ServerThread]:
    srv = ServerThread("127.0.0.1:0", store, ServerOptions(token="s3cret")).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_token_accepted(token_server: ServerThread) -> None:
    with RiskClient(f"127.0.0.1:{token_server.port}", token="s3cret") as c:
        assert c.get("a").level == "LOW"
        assert len(c.batch_get(["a", "b"])) == 2


@pytest.mark.parametrize("metadata", [None, bearer_metadata("wrong"), (("authorization", "s3cret"),)])
def test_token_refused(token_server: ServerThread, metadata: tuple | None) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{token_server.port}") as ch:
        stub = risk_pb2_grpc.RiskServiceStub(ch)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="a"), timeout=5, metadata=metadata)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as info:
            list(stub.WatchRiskScores(risk_pb2.WatchRiskScoresRequest(), timeout=5, metadata=metadata))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # health stays open for probes and load balancers
        status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING


def test_client_reports_unauthenticated(token_server: ServerThread) -> None:
    with RiskClient(f"127.0.0.1:{token_server.port}", token="nope") as c:
        with pytest.raises(RiskServiceError) as info:
            c.get("a")
        assert info.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_refused_calls_are_counted_for_the_services_own_methods(store: ScoreStore) -> None:
    metrics = ServiceMetrics(store)
    srv = ServerThread("127.0.0.1:0", store, ServerOptions(token="s3cret"), metrics=metrics).start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
            stub = risk_pb2_grpc.RiskServiceStub(ch)
            for _ in range(2):
                with pytest.raises(grpc.RpcError):
                    stub.GetRiskScore(risk_pb2.GetRiskScoreRequest(account_id="a"), timeout=5, metadata=bearer_metadata("wrong"))
            with pytest.raises(grpc.RpcError):
                ch.unary_unary("/ringwatch.v1.RiskService/NoSuchMethod")(b"", timeout=5)
    finally:
        srv.stop()
    sample = metrics.registry.get_sample_value
    assert sample("ringwatch_grpc_requests_total", {"method": "GetRiskScore", "code": "UNAUTHENTICATED"}) == 2
    assert sample("ringwatch_grpc_requests_total", {"method": "NoSuchMethod", "code": "UNAUTHENTICATED"}) is None
