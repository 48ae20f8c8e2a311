"""Export into the real embedded Neo4j: counts, idempotence, incremental updates, injection."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import neo4j
import pytest

from ringwatch.errors import InputError, NotFoundError, ServiceError
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
        "a.reasons AS reasons, a.first_ms AS first, a.out_degree AS deg", {"id": "a1"},
    ).records[0]
    assert rec["level"] == "CRITICAL" and rec["ring"] == "R1"
    assert rec["risk"] == pytest.approx(0.97, abs=1e-6)
    assert rec["reasons"] == ["shares a device with ring R1"]
    assert datetime.fromtimestamp(rec["first"] / 1000, timezone.utc).year == 2025
    assert rec["deg"] == 0.0
    ring = neo4j_driver.execute_query("MATCH (g:Ring {id: 'R1'})<-[:MEMBER_OF]-(a) "
                                      "RETURN g.size AS size, g.synchrony AS synchrony, count(a) AS n").records[0]
    assert (ring["size"], ring["n"], ring["synchrony"]) == (3, 3, 0.75)
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


def test_a_constraint_cut_short_by_a_crash_is_recreated(neo4j_driver: neo4j.Driver, data_home: Path) -> None:
    """The state a server killed mid-``CREATE CONSTRAINT`` comes back with (seen in a kill test):
    the constraint's name held by a plain index, no constraint. The export must still complete."""
    neo4j_export.ensure_schema(neo4j_driver)
    neo4j_driver.execute_query("DROP CONSTRAINT export_meta_id")
    neo4j_driver.execute_query("CREATE INDEX export_meta_id FOR (m:RingwatchExport) ON (m.id)")
    neo4j_driver.execute_query("CALL db.awaitIndexes(60)")
    publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS)
    report = _export(neo4j_driver, data_home)
    assert report.nodes["Account"] == len(ACCOUNTS)
    owner = neo4j_driver.execute_query("SHOW INDEXES YIELD name, owningConstraint WHERE name = 'export_meta_id' "
                                       "RETURN owningConstraint").records
    assert [r["owningConstraint"] for r in owner] == ["export_meta_id"]  # the constraint's own backing index again
    constraints = neo4j_driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN name").records
    assert {r["name"] for r in constraints} >= {"export_meta_id", "account_id", "device_id", "ip_id", "ring_id"}
    # an index of someone else's that holds one of the names (another label) is theirs: left alone, a clear error
    neo4j_driver.execute_query("DROP CONSTRAINT ring_id")
    neo4j_driver.execute_query("CREATE INDEX ring_id FOR (f:Foo) ON (f.bar)")
    try:
        with pytest.raises(ServiceError, match="already exists an index called 'ring_id'"):
            _export(neo4j_driver, data_home)
        kept = neo4j_driver.execute_query("SHOW INDEXES YIELD name, labelsOrTypes WHERE name = 'ring_id' RETURN labelsOrTypes").records
        assert [r["labelsOrTypes"] for r in kept] == [["Foo"]]
    finally:
        neo4j_driver.execute_query("DROP INDEX ring_id IF EXISTS")
        neo4j_export.ensure_schema(neo4j_driver)


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


def test_scores_whose_snapshot_is_gone_are_never_paired_with_another(data_home: Path) -> None:
    home = Home(data_home)
    first = publish_snapshot(data_home, ["a1"], {}, [])
    publish_scores(data_home, first, {"a1": (0.9, "HIGH", None)})
    second = publish_snapshot(data_home, ["a1", "a2"], {}, [])
    snap_dir, _ = neo4j_export.resolve_versions(home.snapshots, home.scores)
    assert snap_dir.name == first  # the scores' own graph, not the newer current one
    (home.snapshots.root / first / "manifest.json").unlink()  # gone (pruning keeps it; by hand)
    with pytest.raises(NotFoundError, match=f"made on snapshot {first}, which is no longer published"):
        neo4j_export.resolve_versions(home.snapshots, home.scores)
    snap_dir, _ = neo4j_export.resolve_versions(home.snapshots, home.scores, second)  # named: the operator's choice
    assert snap_dir.name == second


def _dump(driver: neo4j.Driver) -> tuple[list[tuple], list[tuple]]:
    """Every node and relationship with all its properties (but the export time), sorted."""
    nodes = driver.execute_query(
        "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props").records
    rels = driver.execute_query(
        "MATCH (a)-[e]->(b) RETURN type(e) AS type, a.id AS src, b.id AS dst, properties(e) AS props").records

    def norm(props: dict) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in props.items() if k != "exported_at"))

    return (sorted((tuple(r["labels"]), norm(r["props"])) for r in nodes),
            sorted((r["type"], r["src"], r["dst"], norm(r["props"])) for r in rels))


def _wipe(driver: neo4j.Driver) -> None:
    driver.execute_query("MATCH (n) DETACH DELETE n")


def test_bulk_create_and_merge_write_the_same_graph(neo4j_driver: neo4j.Driver, neo4j_home: Path, data_home: Path) -> None:
    snap = publish_snapshot(data_home, ACCOUNTS + ["a6;x\u00e9"], {**RELATIONS, "like": RELATIONS["like"] + [("a6;x\u00e9", "zz", 1)]},
                            DEVICES, IPS)
    publish_scores(data_home, snap, {**SCORES, "ghost": (0.5, "MEDIUM", "R9")},  # a scored account only the scores name
                   related={"R1": [("R9", 3), ("R5", 2)]})  # and R9 lists none
    snap_dir, scores_dir = neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores)
    dumps = {}
    for method in ("merge", "create", "bulk"):
        _wipe(neo4j_driver)
        report = neo4j_export.export(neo4j_driver, snap_dir, scores_dir, batch_size=2, method=method, server_home=neo4j_home)
        assert report.method == method
        dumps[method] = _dump(neo4j_driver)
        if method == "bulk":
            assert not (neo4j_home / "neo4j" / neo4j_export.BULK_PENDING).exists()
            constraints = neo4j_driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN collect(name) AS c").records[0]["c"]
            assert "account_id" in constraints
    assert dumps["create"] == dumps["merge"]
    assert dumps["bulk"] == dumps["merge"]
    nodes, rels = dumps["merge"]
    assert len(nodes) == 7 + 1 + 1 + 3 + 2 + 2 + 1  # accounts + endpoint zz + ghost, devices, IPs, rings R1 R9, meta
    related = {r["id"]: (r["related"], r["related_links"]) for r in neo4j_driver.execute_query(
        "MATCH (g:Ring) RETURN g.id AS id, g.related AS related, g.related_links AS related_links").records}
    assert related == {"R1": (["R9", "R5"], [3, 2]), "R9": (None, None)}  # no property where the list is empty, on every path

    # After a bulk load the next export is incremental and changes nothing.
    again = _export(neo4j_driver, data_home)
    assert again.method == "merge" and again.changed_scores == 0 and again.retired == {}
    assert _dump(neo4j_driver) == dumps["merge"]


def test_auto_picks_create_then_incremental_merge(neo4j_driver: neo4j.Driver, data_home: Path) -> None:
    snap = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS)
    publish_scores(data_home, snap, SCORES)
    first = _export(neo4j_driver, data_home)
    assert first.method == "create"  # empty database, too small for the bulk importer
    same = _export(neo4j_driver, data_home)
    assert same.method == "merge" and same.unchanged and same.total_rows == 0
    assert (same.nodes, same.relationships) == (first.nodes, first.relationships)
    # A new score set on the same snapshot: only the changed scores are sent.
    publish_scores(data_home, snap, {**SCORES, "a4": (0.75, "HIGH", None)})
    inc = _export(neo4j_driver, data_home)
    assert inc.rows["scores"] == 1 and inc.changed_scores == 1 and inc.retired == {}
    assert "accounts" in inc.unchanged
    rec = neo4j_driver.execute_query("MATCH (a:Account {id:'a4'}) RETURN a.level AS level, a.scores_version AS v").records[0]
    assert (rec["level"], rec["v"]) == ("HIGH", "v2")
    full = neo4j_export.export(neo4j_driver, *neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores),
                               method="merge")
    assert full.changed_scores == 0 and full.retired == {} and full.relationships == first.relationships


def test_interrupted_bulk_load_is_completed_by_a_rerun(neo4j_driver: neo4j.Driver, neo4j_home: Path, data_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from services import neo4j_server

    snap = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS)
    publish_scores(data_home, snap, SCORES)
    snap_dir, scores_dir = neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores)

    # Killed while the importer runs (before the swap): the live database is untouched.
    class Killed(Exception):
        pass

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    monkeypatch.setattr(neo4j_server.subprocess, "run", killed)
    with pytest.raises(Killed):
        neo4j_export.export(neo4j_driver, snap_dir, scores_dir, method="bulk", server_home=neo4j_home)
    monkeypatch.undo()
    assert neo4j_export.graph_counts(neo4j_driver)[0]["Account"] == 0

    # Killed after the swap, before schema and meta: the marker makes the next auto run redo the load.
    reference = neo4j_export.export(neo4j_driver, snap_dir, scores_dir, method="bulk", server_home=neo4j_home)
    (neo4j_home / "neo4j" / neo4j_export.BULK_PENDING).write_text("{}")
    neo4j_driver.execute_query("MATCH (m:RingwatchExport) DELETE m")
    rerun = neo4j_export.export(neo4j_driver, snap_dir, scores_dir, server_home=neo4j_home)
    assert rerun.method == "bulk"
    assert (rerun.nodes, rerun.relationships) == (reference.nodes, reference.relationships)
    assert not (neo4j_home / "neo4j" / neo4j_export.BULK_PENDING).exists()
    dup = neo4j_driver.execute_query("MATCH (a:Account) WITH a.id AS id, count(*) AS n WHERE n > 1 RETURN count(*) AS d").records
    assert dup[0]["d"] == 0


def test_bulk_is_refused_where_it_would_replace_data(neo4j_driver: neo4j.Driver, neo4j_home: Path, data_home: Path) -> None:
    from ringwatch.errors import ConfigError

    publish_snapshot(data_home, ["a1", "a2"], {"follow": [("a1", "a2", 1)]}, [])
    snap_dir, _ = neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores)
    neo4j_export.export(neo4j_driver, snap_dir, None)
    for method in ("bulk", "create"):
        with pytest.raises(ConfigError, match="empty database"):
            neo4j_export.export(neo4j_driver, snap_dir, None, method=method, server_home=neo4j_home)
    with pytest.raises(ConfigError, match="NEO4J_URI"):
        neo4j_export.export(neo4j_driver, snap_dir, None, method="bulk")


def _account(driver: neo4j.Driver, account: str) -> dict:
    rows = driver.execute_query("MATCH (a:Account {id: $id}) RETURN properties(a) AS p", {"id": account}).records
    return dict(rows[0]["p"])


def test_a_bulk_load_stopped_after_its_swap_is_finished_not_imported_again(
        neo4j_driver: neo4j.Driver, neo4j_home: Path, data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The swapped store serves at once, and an investigator's verdict on it must survive the rerun."""
    snap = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS)
    publish_scores(data_home, snap, SCORES)
    snap_dir, scores_dir = neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores)
    marker = neo4j_home / "neo4j" / neo4j_export.BULK_PENDING

    class Interrupted(Exception):
        pass

    def interrupted(*args: object, **kwargs: object) -> None:
        raise Interrupted

    monkeypatch.setattr(neo4j_export, "ensure_schema", interrupted)  # Ctrl-C in the schema step, after the swap
    try:
        with pytest.raises(Interrupted):
            neo4j_export.export(neo4j_driver, snap_dir, scores_dir, method="bulk", server_home=neo4j_home)
        monkeypatch.undo()
        assert neo4j_export.graph_counts(neo4j_driver)[0]["Account"] == 6  # the new store is live
        neo4j_export.set_verdict(neo4j_driver, "a4", 1, note="seen in review")
        rerun = neo4j_export.export(neo4j_driver, snap_dir, scores_dir, server_home=neo4j_home)
        assert rerun.method == "merge" and rerun.changed_scores == 0 and rerun.unchanged
        assert _account(neo4j_driver, "a4")["verdict"] == "abusive"
        assert not marker.exists()
        constraints = neo4j_driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN collect(name) AS c").records[0]["c"]
        assert "account_id" in constraints
    finally:
        marker.unlink(missing_ok=True)


def test_an_export_stopped_before_its_meta_is_not_diffed_against_the_files(
        neo4j_driver: neo4j.Driver, data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """v2 half written under a meta that still says v1; v3 = v1 must still put v1's values back."""
    snap = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS)
    publish_scores(data_home, snap, SCORES)
    _export(neo4j_driver, data_home)
    publish_scores(data_home, snap, {**SCORES, "a4": (0.75, "HIGH", None)})

    def lost(*args: object, **kwargs: object) -> None:
        raise ServiceError("lost the connection")

    monkeypatch.setattr(neo4j_export, "_write_meta", lost)
    with pytest.raises(ServiceError):
        _export(neo4j_driver, data_home)
    monkeypatch.undo()
    assert _account(neo4j_driver, "a4")["level"] == "HIGH"  # v2's value, written before the failure
    publish_scores(data_home, snap, SCORES)  # v3: v1's values again
    report = _export(neo4j_driver, data_home)
    a4 = _account(neo4j_driver, "a4")
    assert (a4["level"], a4["scores_version"]) == ("LOW", "v3") and report.changed_scores == 1
    again = _export(neo4j_driver, data_home)  # complete now: the next run is incremental again
    assert again.total_rows == 0 and again.changed_scores == 0


@pytest.mark.parametrize("method", ["auto", "merge"])
def test_an_account_a_new_score_set_leaves_out_loses_its_old_score(neo4j_driver: neo4j.Driver, data_home: Path,
                                                                   method: str) -> None:
    snap = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS)
    publish_scores(data_home, snap, SCORES)
    _export(neo4j_driver, data_home)
    publish_scores(data_home, snap, {a: v for a, v in SCORES.items() if a != "a3"})  # a3 no longer scored
    snap_dir, scores_dir = neo4j_export.resolve_versions(Home(data_home).snapshots, Home(data_home).scores)
    report = neo4j_export.export(neo4j_driver, snap_dir, scores_dir, batch_size=2, method=method)
    a3 = _account(neo4j_driver, "a3")
    assert not {"risk", "level", "ring_id", "reasons", "scores_version", "model_version"} & set(a3)
    assert a3["out_degree"] == 2.0  # the account stays, with its features
    assert report.retired["scores"] == 1 and report.retired["MEMBER_OF"] == 1
    assert _account(neo4j_driver, "a1")["level"] == "CRITICAL"
    members = neo4j_driver.execute_query("MATCH (a)-[:MEMBER_OF]->(:Ring {id:'R1'}) RETURN a.id AS id ORDER BY id").records
    assert [r["id"] for r in members] == ["a1", "a2"]


def test_a_feature_named_like_an_account_property_cannot_overwrite_it(neo4j_driver: neo4j.Driver, data_home: Path) -> None:
    """An imported graph's numeric ``label`` column is stored beside the verdict label, never over it."""
    snap = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS, features={"label": [0.0] * len(ACCOUNTS)})
    publish_scores(data_home, snap, SCORES)
    _export(neo4j_driver, data_home)
    neo4j_export.set_verdict(neo4j_driver, "a1", 1)
    snap2 = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS, features={"label": [0.0] * len(ACCOUNTS)})
    publish_scores(data_home, snap2, SCORES)
    _export(neo4j_driver, data_home)
    a1 = _account(neo4j_driver, "a1")
    assert (a1["label"], a1["verdict"], a1["feature_label"]) == (1, "abusive", 0.0)
    clash = publish_snapshot(data_home, ACCOUNTS, RELATIONS, DEVICES, IPS,
                             features={"label": [0.0] * len(ACCOUNTS), "feature_label": [1.0] * len(ACCOUNTS)})
    with pytest.raises(InputError, match="feature_label"):
        _export(neo4j_driver, data_home, snapshot=clash)


def test_a_rings_table_whose_related_lists_disagree_is_refused(tmp_path: Path) -> None:
    import polars as pl

    pl.DataFrame({"ring_id": ["R1"], "related": [["R2", "R3"]], "related_links": [[4]]}).write_parquet(
        tmp_path / neo4j_export.RINGS_TABLE)
    with pytest.raises(InputError, match="same number of rings"):
        neo4j_export._rings_rows(tmp_path, pl.DataFrame())
