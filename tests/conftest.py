"""Fixtures shared across the test tree.

The Neo4j fixtures start one real embedded Neo4j per test session with the project's own
code (``ensure_jars`` + ``start``, exactly as ``ringwatch neo4j start`` does) and always stop
it at the end of the session.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from ringwatch.settings import Settings


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def neo4j_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Ringwatch home with the embedded Neo4j running in it for the whole session."""
    from services import neo4j_server

    home = tmp_path_factory.mktemp("neo4j-home")
    port = free_port()
    try:
        neo4j_server.start(home, port)
    except Exception:
        neo4j_server.stop(home)
        raise
    try:
        yield home
    finally:
        neo4j_server.stop(home)


@pytest.fixture(scope="session")
def neo4j_settings(neo4j_home: Path) -> Settings:
    """Settings pointing at the session's embedded Neo4j (and never at a NEO4J_URI from the env)."""
    return Settings(home=neo4j_home, neo4j_uri=None)


@pytest.fixture()
def neo4j_driver(neo4j_settings: Settings) -> Iterator[neo4j.Driver]:
    """A driver on an emptied database."""
    from services import neo4j_server

    driver = neo4j_server.connect(neo4j_settings)
    with driver.session() as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS").consume()
    try:
        yield driver
    finally:
        driver.close()


