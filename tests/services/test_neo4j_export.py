"""Export into the real embedded Neo4j: counts, idempotence, incremental updates, injection."""

from __future__ import annotations

from pathlib import Path

import neo4j
import pytest

from ringwatch.errors import InputError, NotFoundError
from ringwatch.versions import Home
from services import neo4j_export
from tests.services.conftest import publish_scores, publish_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.neo4j]

INJECTION = "x'}) DETACH DELETE n //"
"""An account id that would wipe the graph if it were ever formatted into Cypher."""

ACCOUNTS = ["a1", "a2", "a3", "a4", "a5", INJECTION]
RELATIONS = {
    "follow": [("a4", "a1", 2), ("a5", "a4", 1), (INJECTION, "a5", 1)],
    "like": [("a1", "a2", 5), ("a2", "a3", 4)],
    "coaction": [("a1", "a2", 7), ("a1", "a3", 6), ("a2", "a3", 6)],
    "shared_device": [("a1", "a2", 1), ("a1", "a3", 1), ("a2", "a3", 1)],
}
DEVICES = [("a1", "d1", 10), ("a2", "d1", 9), ("a3", "d1", 8), ("a4", "d2", 3), (INJECTION, "d3", 1)]
IPS = [("a1", "10.0.0.1", 4), ("a2", "10.0.0.1", 4), ("a5", "10.0.0.9", 1)]
SCORES = {
    "a1": (0.97, "CRITICAL", "R1"), "a2": (0.93, "CRITICAL", "R1"), "a3": (0.88, "HIGH", "R1"),
    "a4": (0.10, "LOW", None), "a5": (0.05, "LOW", None), INJECTION: (0.30, "MEDIUM", None),
}


def _export(driver: neo4j.Driver, home: Path, snapshot: str | None = None, scores: str | None = None) -> neo4j_export.ExportReport:
    snap_dir, scores_dir = neo4j_export.resolve_versions(Home(home).snapshots, Home(home).scores, snapshot, scores)
    return neo4j_export.export(driver, snap_dir, scores_dir, batch_size=2)


def test_export_counts_and_idempotence(neo4j_driver: neo4j.Driver, data_home: Path) -> None:
    snap = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS)
    publish_scores(data_home, snap, SCORES)

    first = _export(neo4j_driver, data_home)
    assert first.nodes == {"Account": 6, "Device": 3, "IP": 2, "Ring": 1}
    assert first.relationships == {
        "COACTION": 3, "FOLLOW": 3, "LIKE": 2, "SHARED_DEVICE": 3,
        "USES_DEVICE": 5, "USES_IP": 3, "MEMBER_OF": 3,
    }
    assert first.changed_scores == 6
    assert first.rows_per_s > 0

    second = _export(neo4j_driver, data_home)
    assert second.nodes == first.nodes
    assert second.relationships == first.relationships
    assert second.changed_scores == 0
    assert second.retired == {}

    rec = neo4j_driver.execute_query(
        "MATCH (a:Account {id: $id}) RETURN a.risk AS risk, a.level AS level, a.ring_id AS ring, "
        "a.reasons AS reasons, a.first_ts AS first, a.out_degree AS deg", {"id": "a1"},
    ).records[0]
    assert rec["level"] == "CRITICAL" and rec["ring"] == "R1"
    assert rec["risk"] == pytest.approx(0.97, abs=1e-6)
    assert rec["reasons"] == ["shares a device with ring R1"]
    assert rec["first"].year == 2025
    assert rec["deg"] == 0.0
    ring = neo4j_driver.execute_query("MATCH (g:Ring {id: 'R1'})<-[:MEMBER_OF]-(a) RETURN g.size AS size, count(a) AS n").records[0]
    assert (ring["size"], ring["n"]) == (3, 3)
    meta = neo4j_driver.execute_query("MATCH (m:RingwatchExport) RETURN m.snapshot_version AS s, m.scores_version AS v").records[0]
    assert (meta["s"], meta["v"]) == (snap, "v1")


def test_incremental_export_changes_only_what_changed(neo4j_driver: neo4j.Driver, data_home: Path) -> None:
    snap1 = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS)
    publish_scores(data_home, snap1, SCORES)
    _export(neo4j_driver, data_home)

    # v2: a like retired, a follow added, same_text new, no account_ip table; a5 joins the ring, a3 leaves it.
    relations = {**RELATIONS, "like": [("a1", "a2", 6)], "follow": RELATIONS["follow"] + [("a1", "a4", 1)],
                 "same_text": [("a1", "a5", 2)]}
    snap2 = publish_snapshot(data_home, ACCOUNTS, relations, DEVICES, None)
    scores = {**SCORES, "a5": (0.91, "CRITICAL", "R1"), "a3": (0.20, "LOW", None)}
    publish_scores(data_home, snap2, scores)
    report = _export(neo4j_driver, data_home)

    assert report.snapshot_version == snap2 and report.scores_version == "v2"
    assert report.changed_scores == 2
    assert report.retired == {"LIKE": 1, "USES_IP": 3, "MEMBER_OF": 1}
    assert report.relationships["LIKE"] == 1 and report.relationships["FOLLOW"] == 4
    assert report.relationships["SAME_TEXT"] == 1 and "USES_IP" not in report.relationships
    assert report.relationships["MEMBER_OF"] == 3
    like = neo4j_driver.execute_query("MATCH (:Account {id:'a1'})-[e:LIKE]->(:Account {id:'a2'}) RETURN e.count AS c").records
    assert [r["c"] for r in like] == [6]
    members = neo4j_driver.execute_query("MATCH (a)-[:MEMBER_OF]->(:Ring {id:'R1'}) RETURN a.id AS id ORDER BY id").records
    assert [r["id"] for r in members] == ["a1", "a2", "a5"]
    changed = neo4j_driver.execute_query("MATCH (a:Account) WHERE a.scores_version = 'v2' RETURN a.id AS id ORDER BY id").records
    assert [r["id"] for r in changed] == ["a3", "a5"]


def test_injection_in_ids_is_inert(neo4j_driver: neo4j.Driver, data_home: Path) -> None:
    snap = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS)
    publish_scores(data_home, snap, SCORES)
    report = _export(neo4j_driver, data_home)
    assert report.nodes["Account"] == 6
    rec = neo4j_driver.execute_query("MATCH (a:Account {id: $id})-[:FOLLOW]->(b) RETURN b.id AS b", {"id": INJECTION}).records
    assert [r["b"] for r in rec] == ["a5"]
    verdict = neo4j_export.set_verdict(neo4j_driver, INJECTION, 1, note="'}) MATCH (n) DETACH DELETE n //")
    assert verdict["verdict"] == "abusive" and verdict["note"].startswith("'})")
    nodes, _ = neo4j_export.graph_counts(neo4j_driver)
    assert nodes["Account"] == 6


def test_set_verdict_unknown_account(neo4j_driver: neo4j.Driver) -> None:
    with pytest.raises(NotFoundError):
        neo4j_export.set_verdict(neo4j_driver, "nobody", 0)


def test_relation_names_are_validated(neo4j_driver: neo4j.Driver, data_home: Path) -> None:
    assert neo4j_export.relation_type("shared_device") == "SHARED_DEVICE"
    for bad in ("follow]->() DETACH DELETE n //", "Follow", "1like", "like-it"):
        with pytest.raises(InputError):
            neo4j_export.relation_type(bad)
    publish_snapshot(data_home, ["a1", "a2"], {"like`x": [("a1", "a2", 1)]}, [])
    with pytest.raises(InputError):
        _export(neo4j_driver, data_home)


def test_export_without_scores_or_optional_tables(neo4j_driver: neo4j.Driver, data_home: Path) -> None:
    publish_snapshot(data_home, ["a1", "a2"], {"follow": [("a1", "a2", 1), ("a2", "zz", 1)]}, [("a1", "d9", 1)])
    report = _export(neo4j_driver, data_home)
    assert report.scores_version is None
    assert report.nodes == {"Account": 3, "Device": 1, "IP": 0, "Ring": 0}
    assert report.relationships == {"FOLLOW": 2, "USES_DEVICE": 1}


def test_missing_versions_are_clear_errors(data_home: Path) -> None:
    with pytest.raises(NotFoundError, match="no snapshots published"):
        neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores)
    publish_snapshot(data_home, ["a1"], {}, [])
    with pytest.raises(NotFoundError, match="v9"):
        neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores, "v9")
