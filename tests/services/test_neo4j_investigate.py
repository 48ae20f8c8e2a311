"""Every investigator query finds the ring planted in a small graph, on the real Neo4j."""

from __future__ import annotations

import re
from pathlib import Path

import neo4j
import polars as pl
import pytest

from ringwatch.errors import ConfigError, NotFoundError
from ringwatch.versions import Home
from services import investigate, neo4j_export
from tests.services.conftest import publish_scores, publish_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.neo4j]

RING = ["r1", "r2", "r3", "r4"]
BENIGN = ["b1", "b2", "b3", "b4", "b5"]
SNEAKY = "r5' OR 1=1 //"


@pytest.fixture()
def planted(neo4j_driver: neo4j.Driver, data_home: Path) -> neo4j.Driver:
    """A four-account ring (one device, one IP, lockstep likes) among benign accounts."""
    lockstep = [(a, b, 9) for i, a in enumerate(RING) for b in RING[i + 1:]]
    snap = publish_snapshot(
        data_home,
        RING + BENIGN + [SNEAKY],
        {
            "follow": [("b1", "b2", 1), ("b2", "b3", 1), ("b3", "r1", 1), ("b4", "b5", 1)],
            "like": [(r, "b1", 3) for r in RING] + [(r, "b3", 1) for r in RING[:3]],
            "coaction": lockstep,
            "shared_device": lockstep,
            "same_text": [("r1", "r2", 1), ("r1", "r3", 1)],
            # r1 and r4 both answered b2, and r4 answered b3: answers are not actions on a target
            "answers": [("r1", "b2", 1), ("r4", "b2", 1), ("r4", "b3", 2)],
        },
        [(r, "farm-phone", 20) for r in RING] + [(b, f"phone-{b}", 5) for b in BENIGN] + [(SNEAKY, "farm-phone", 1)],
        [(r, "203.0.113.7", 20) for r in RING] + [("b1", "198.51.100.1", 2)],
    )
    scores = {r: (0.9 + i / 100, "CRITICAL", "R1") for i, r in enumerate(RING)}
    scores |= {b: (0.05, "LOW", None) for b in BENIGN} | {SNEAKY: (0.4, "MEDIUM", None)}
    publish_scores(data_home, snap, scores)
    snap_dir, scores_dir = neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores)
    neo4j_export.export(neo4j_driver, snap_dir, scores_dir)
    return neo4j_driver


def test_shared_device_accounts(planted: neo4j.Driver) -> None:
    rows = investigate.shared_device_accounts(planted, "r1")
    assert [r["account_id"] for r in rows] == ["r4", "r3", "r2", SNEAKY]
    assert rows[0]["devices"] == ["farm-phone"] and rows[0]["level"] == "CRITICAL"
    assert investigate.shared_device_accounts(planted, "b4") == []
    with pytest.raises(NotFoundError):
        investigate.shared_device_accounts(planted, "ghost")


def test_shared_infra(planted: neo4j.Driver) -> None:
    rows = investigate.shared_infra(planted, "r2")
    by_id = {r["account_id"]: r for r in rows}
    assert set(by_id) == {"r1", "r3", "r4", SNEAKY}
    assert by_id["r1"]["ips"] == ["203.0.113.7"] and by_id["r1"]["coactions"] == 9
    assert by_id[SNEAKY]["ips"] == [] and by_id[SNEAKY]["coactions"] == 0


def test_ring(planted: neo4j.Driver) -> None:
    rows = investigate.ring(planted, "r3")
    assert {r["account_id"] for r in rows} == set(RING)
    assert all(r["ring_id"] == "R1" and r["coaction_peers"] == 3 and r["infra_peers"] == 3 for r in rows)
    assert {r["account_id"]: r["text_peers"] for r in rows} == {"r1": 2, "r2": 1, "r3": 1, "r4": 0}
    assert all(r["density"] == 1.0 and r["synchrony"] == 0.75 for r in rows)  # the ring's own statistics
    # r1-r3 like b1 and b3; r4 likes b1 only, and one shared target is not a customer link (nor are answers)
    assert {r["account_id"]: r["customer_peers"] for r in rows} == {"r1": 2, "r2": 2, "r3": 2, "r4": 0}
    # ... but it is r4's link to each of them: the ring stage's one-customer peers
    assert {r["account_id"]: r["one_customer_peers"] for r in rows} == {"r1": 1, "r2": 1, "r3": 1, "r4": 3}
    assert investigate.ring(planted, "R1") == rows
    assert investigate.ring(planted, "b1") == []
    with pytest.raises(NotFoundError, match="no account or ring 'R99'"):
        investigate.ring(planted, "R99")
    assert rows[0]["related"] == [] and rows[0]["related_links"] == []  # the only ring: nothing related


def test_the_readme_browser_queries_run(neo4j_driver: neo4j.Driver, data_home: Path) -> None:
    a, b = _related_rings(neo4j_driver, data_home)
    text = (Path(__file__).parents[2] / "README.md").read_text()
    queries = re.findall(r"```cypher\n(.*?)```", text, flags=re.S)
    assert len(queries) == 2
    devices, rings = (neo4j_driver.execute_query(q, {"account": "h1", "ring": "R1"}).records for q in queries)
    assert {r["b"]["id"] for r in devices} == set(a) - {"h1"}
    # the ring query opens both groups of handsets and the lockstep links between them, not inside them
    assert {r["m"]["id"] for r in rings} == set(a + b)
    assert {frozenset((r["m"]["id"], r["n"]["id"])) for r in rings if r["n"] is not None} == {
        frozenset(("h1", "h4")), frozenset(("h2", "h4"))}


def _related_rings(driver: neo4j.Driver, data_home: Path) -> tuple[list[str], list[str]]:
    """Two groups of handsets of one farm, scored as rings R1 and R2, with lockstep links between them; exported."""
    a, b = ["h1", "h2", "h3"], ["h4", "h5", "h6"]
    lockstep = [(x, y, 5) for g in (a, b) for i, x in enumerate(g) for y in g[i + 1:]] + [("h1", "h4", 2), ("h2", "h4", 2)]
    snap = publish_snapshot(data_home, a + b, {"coaction": lockstep}, [(x, "phone-a", 9) for x in a] + [(x, "phone-b", 9) for x in b])
    publish_scores(data_home, snap, {x: (0.9, "CRITICAL", "R1" if x in a else "R2") for x in a + b},
                   related={"R1": [("R2", 2)], "R2": [("R1", 2)]})
    snap_dir, scores_dir = neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores)
    neo4j_export.export(driver, snap_dir, scores_dir)
    return a, b


def test_ring_and_top_rings_name_the_related_rings(neo4j_driver: neo4j.Driver, data_home: Path, neo4j_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from ringwatch.cli import app, common

    _related_rings(neo4j_driver, data_home)
    rows = investigate.ring(neo4j_driver, "h5")
    assert rows[0]["ring_id"] == "R2" and rows[0]["related"] == ["R1"] and rows[0]["related_links"] == [2]
    assert {r["ring_id"]: (r["related"], r["related_links"]) for r in investigate.top_rings(neo4j_driver)} == {
        "R1": (["R2"], [2]), "R2": (["R1"], [2])}
    monkeypatch.setenv("RINGWATCH_HOME", str(neo4j_home))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    common.settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["investigate", "ring", "h5"])
        assert result.exit_code == 0, result.output
        assert "Related rings (links between the members): R1 (2)" in " ".join(result.output.split())
        result = CliRunner().invoke(app, ["investigate", "top-rings"])
        assert result.exit_code == 0, result.output
        assert "R1 (2)" in result.output and "R2 (2)" in result.output
    finally:
        common.settings.cache_clear()


def test_why(planted: neo4j.Driver) -> None:
    row = investigate.why(planted, "r1")
    assert row["ring"] == "R1" and row["ring_size"] == 4
    assert row["device_peers"] == 4 and row["ip_peers"] == 3
    assert row["coaction_partners"] == 3 and row["coactions"] == 27 and row["risky_coaction_partners"] == 3
    assert row["same_text_partners"] == 2
    assert row["reasons"] == ["shares a device with ring R1"]
    with pytest.raises(NotFoundError):
        investigate.why(planted, SNEAKY + "x")


def test_top_rings(planted: neo4j.Driver) -> None:
    rows = investigate.top_rings(planted, limit=5)
    assert len(rows) == 1
    assert rows[0]["ring_id"] == "R1" and rows[0]["members"] == 4
    assert rows[0]["top_members"][0] == "r4"
    assert rows[0]["density"] == 1.0 and rows[0]["synchrony"] == 0.75


def test_path(planted: neo4j.Driver) -> None:
    found = investigate.path(planted, "b1", "r1")
    assert found is not None and found["hops"] == 1
    far = investigate.path(planted, "b5", "r1", max_hops=8)
    assert far is None  # b4 -> b5 is an island
    via = investigate.path(planted, "b2", "r2")
    assert via is not None and via["hops"] == 2
    with pytest.raises(ConfigError):
        investigate.path(planted, "b1", "r1", max_hops=99)
    with pytest.raises(NotFoundError):
        investigate.path(planted, "b1", "nobody")


def test_cli_renders_and_shows_cypher(planted: neo4j.Driver, neo4j_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI verbs run against the session server, print tables or JSON, and show their Cypher."""
    import json

    from typer.testing import CliRunner

    from ringwatch.cli import app, common

    monkeypatch.setenv("RINGWATCH_HOME", str(neo4j_home))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    common.settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["investigate", "ring", "r1", "--json"])
        assert result.exit_code == 0, result.output
        ring = json.loads(result.stdout)
        assert ring["ring_id"] == "R1" and {r["account_id"] for r in ring["members"]} == set(RING)
        for args in (["why", "r1"], ["shared-infra", "r1"], ["top-rings"], ["path", "b2", "r2"]):
            result = runner.invoke(app, ["investigate", *args, "--show-cypher"])
            assert result.exit_code == 0, result.output
        status = runner.invoke(app, ["neo4j", "status", "--json"])
        assert status.exit_code == 0 and json.loads(status.stdout)["running"] is True
    finally:
        common.settings.cache_clear()


def test_label_records_the_verdict_and_its_source_whether_or_not_neo4j_has_the_account(
        planted: neo4j.Driver, neo4j_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from ringwatch.cli import app, common

    monkeypatch.setenv("RINGWATCH_HOME", str(neo4j_home))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    common.settings.cache_clear()
    try:
        known = CliRunner().invoke(app, ["label", "r2", "--benign", "--source", "appeals", "--json"])
        assert known.exit_code == 0, known.output
        stored = planted.execute_query("MATCH (a:Account {id: 'r2'}) RETURN a.verdict AS v, a.verdict_source AS s").records[0]
        assert (stored["v"], stored["s"]) == ("benign", "appeals")
        unknown = CliRunner().invoke(app, ["label", "not-exported", "--abusive", "--json"])
        assert unknown.exit_code == 0, unknown.output  # recorded: a retry would only append it twice
        assert '"neo4j": "neo4j not updated: account' in unknown.stdout
        labels = pl.read_parquet(Home(neo4j_home).labels)
        assert {"r2", "not-exported"} <= set(labels["account_id"].to_list())
    finally:
        common.settings.cache_clear()
