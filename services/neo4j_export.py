"""Export a graph snapshot and a score set into Neo4j, idempotently and incrementally.

The graph in Neo4j (what investigators query)::

    (:Account {id, first_ts, last_ts, <features>, risk, level, ring_id, reasons,
               snapshot_version, scores_version, model_version, verdict, label, verdict_note})
    (:Device {id})  (:IP {id})  (:Ring {id, size, edges, density, mean_risk, ring_score})
    (:Account)-[:FOLLOW|LIKE|COMMENT|MESSAGE|SHARE|... {count, first_ts, last_ts}]->(:Account)
    (:Account)-[:SHARED_DEVICE|SHARED_IP|COACTION|SAME_TEXT {count, ...}]->(:Account)  (src < dst; query undirected)
    (:Account)-[:USES_DEVICE {count, first_ts, last_ts}]->(:Device)
    (:Account)-[:USES_IP {count, first_ts, last_ts}]->(:IP)
    (:Account)-[:MEMBER_OF]->(:Ring)
    (:RingwatchExport {id: 'graph', snapshot_version, scores_version, model_version, relation_types, exported_at})

Every write is ``UNWIND $rows AS r MERGE ...`` with the data as parameters. Relationship
types cannot be parameters, so they come only from relation file names that match
``^[a-z_][a-z0-9_]*$``, upper-cased. Relationships carry the ``snapshot_version`` (ring
memberships the ``scores_version``) that last wrote them; after a successful export the ones
of older versions are deleted ("retired"), and score properties are only rewritten where
they changed. Exporting the same versions twice leaves the same graph. Accounts are never
deleted (they may carry investigators' verdicts).
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import nullcontext
from itertools import islice
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import neo4j
import polars as pl
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ringwatch.errors import ConfigError, InputError, NotFoundError, ServiceError
from ringwatch.types import (
    SCORES_TABLE,
    SNAPSHOT_ACCOUNT_DEVICE,
    SNAPSHOT_ACCOUNT_IP,
    SNAPSHOT_ACCOUNTS,
    SNAPSHOT_RELATIONS_DIR,
)
from ringwatch.versions import VersionedDir

DEFAULT_BATCH_SIZE = 20_000
"""Rows per transaction: big enough to amortise round trips, small enough for a 2 GiB heap."""
DEFAULT_WORKERS = 2
"""Batches in flight at once: one packs rows in Python while Neo4j applies another (1.5x on 2 cores)."""
RINGS_TABLE = "rings.parquet"
META_ID = "graph"

_RELATION_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_REL_TYPE = re.compile(r"^[A-Z_][A-Z0-9_]*$")

SCHEMA: tuple[str, ...] = (
    "CREATE CONSTRAINT account_id IF NOT EXISTS FOR (a:Account) REQUIRE a.id IS UNIQUE",
    "CREATE CONSTRAINT device_id IF NOT EXISTS FOR (d:Device) REQUIRE d.id IS UNIQUE",
    "CREATE CONSTRAINT ip_id IF NOT EXISTS FOR (i:IP) REQUIRE i.id IS UNIQUE",
    "CREATE CONSTRAINT ring_id IF NOT EXISTS FOR (g:Ring) REQUIRE g.id IS UNIQUE",
    "CREATE CONSTRAINT export_meta_id IF NOT EXISTS FOR (m:RingwatchExport) REQUIRE m.id IS UNIQUE",
    "CREATE INDEX account_level IF NOT EXISTS FOR (a:Account) ON (a.level)",
    "CREATE INDEX account_ring_id IF NOT EXISTS FOR (a:Account) ON (a.ring_id)",
    "CREATE INDEX account_risk IF NOT EXISTS FOR (a:Account) ON (a.risk)",
)
"""Uniqueness constraints (which also index the ids MERGE looks up) and investigator indexes."""

_TS = "CASE WHEN r.{c} IS NULL THEN null ELSE datetime({{epochMillis: r.{c}}}) END"
_FIRST = _TS.format(c="first_ms")
_LAST = _TS.format(c="last_ms")


def relation_type(name: str) -> str:
    """The Neo4j relationship type for a snapshot relation name (``shared_device`` → ``SHARED_DEVICE``).

    Raises:
        InputError: The name is not a plain identifier, so it cannot become a type safely.
    """
    if not _RELATION_NAME.match(name):
        raise InputError(f"relation name {name!r} is not a valid identifier (expected ^[a-z_][a-z0-9_]*$); refusing to export it")
    return name.upper()


def _checked_type(rel_type: str) -> str:
    if not _REL_TYPE.match(rel_type):
        raise InputError(f"relationship type {rel_type!r} is not a plain upper-case identifier")
    return rel_type


@dataclass
class ExportReport:
    """What an export did.

    Attributes:
        snapshot_version: Snapshot exported.
        scores_version: Score set exported (``None`` when only a snapshot was exported).
        model_version: Model that produced the scores.
        rows: Rows sent per table.
        changed_scores: Accounts whose risk, level, ring or reasons changed.
        retired: Relationships (and rings) deleted because the new versions no longer have them.
        nodes: Node count per label after the export.
        relationships: Relationship count per type after the export.
        seconds: Wall time.
        rows_per_s: Rows sent per second over the whole export.
        seconds_by_step: Wall time of each batched step (where time goes).
    """

    snapshot_version: str
    scores_version: str | None
    model_version: str | None
    rows: dict[str, int] = field(default_factory=dict)
    changed_scores: int = 0
    retired: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rows_per_s: float = 0.0
    seconds_by_step: dict[str, float] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["total_rows"] = self.total_rows
        return out


# --- reading the artefacts ----------------------------------------------------------------


def _epoch_ms(df: pl.DataFrame, col: str, alias: str) -> pl.Expr:
    if col not in df.columns:
        return pl.lit(None, dtype=pl.Int64).alias(alias)
    dtype = df.schema[col]
    if isinstance(dtype, pl.Datetime):
        return pl.col(col).dt.epoch("ms").alias(alias)
    if dtype == pl.Date:
        return (pl.col(col).cast(pl.Datetime("ms"))).dt.epoch("ms").alias(alias)
    if dtype.is_integer():
        return (pl.col(col) * 1000).cast(pl.Int64).alias(alias)  # epoch seconds
    return pl.lit(None, dtype=pl.Int64).alias(alias)


def _read(path: Path, required: tuple[str, ...]) -> pl.DataFrame:
    try:
        df = pl.read_parquet(path)
    except Exception as exc:  # polars raises several types for unreadable files
        raise InputError(f"cannot read {path}: {exc}") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {', '.join(missing)}; has {', '.join(df.columns)}")
    return df


def _accounts_rows(snapshot: Path) -> pl.DataFrame:
    df = _read(snapshot / SNAPSHOT_ACCOUNTS, ("account_id",))
    features = [c for c, t in df.schema.items() if c not in ("account_id", "first_ts", "last_ts") and t.is_numeric()]
    return df.select(
        pl.col("account_id").cast(pl.String).alias("id"),
        _epoch_ms(df, "first_ts", "first_ms"),
        _epoch_ms(df, "last_ts", "last_ms"),
        (pl.struct([pl.col(c).cast(pl.Float64) for c in features]) if features else pl.lit(None)).alias("f"),
    ).unique(subset="id", keep="last", maintain_order=True)


def _edge_rows(df: pl.DataFrame, src: str, dst: str) -> pl.DataFrame:
    count = pl.col("count").cast(pl.Int64) if "count" in df.columns else pl.lit(1, dtype=pl.Int64)
    return df.select(
        pl.col(src).cast(pl.String).alias("src"),
        pl.col(dst).cast(pl.String).alias("dst"),
        count.alias("count"),
        _epoch_ms(df, "first_ts", "first_ms"),
        _epoch_ms(df, "last_ts", "last_ms"),
    ).drop_nulls(["src", "dst"]).unique(subset=["src", "dst"], keep="last", maintain_order=True)


def _scores_rows(scores: Path) -> pl.DataFrame:
    df = _read(scores / SCORES_TABLE, ("account_id", "risk", "level"))
    reasons = (
        pl.col("reasons").str.json_decode(pl.List(pl.String))
        if "reasons" in df.columns and df.schema["reasons"] == pl.String
        else pl.lit([], dtype=pl.List(pl.String))
    )
    ring = pl.col("ring_id").cast(pl.String) if "ring_id" in df.columns else pl.lit(None, dtype=pl.String)
    return df.select(
        pl.col("account_id").cast(pl.String).alias("id"),
        pl.col("risk").cast(pl.Float64),
        pl.col("level").cast(pl.String),
        ring.alias("ring_id"),
        reasons.fill_null([]).alias("reasons"),
    ).unique(subset="id", keep="last", maintain_order=True)


_RING_TYPES = {"size": pl.Int64, "edges": pl.Int64, "density": pl.Float64, "mean_risk": pl.Float64, "ring_score": pl.Float64}


def _rings_rows(scores: Path, score_rows: pl.DataFrame) -> pl.DataFrame:
    stats = ("size", "edges", "density", "mean_risk", "ring_score")
    path = scores / RINGS_TABLE
    if path.is_file():
        df = _read(path, ("ring_id",))
        return df.select(
            pl.col("ring_id").cast(pl.String).alias("id"),
            *[(pl.col(c).cast(_RING_TYPES[c]) if c in df.columns else pl.lit(None, dtype=_RING_TYPES[c])).alias(c) for c in stats],
        ).unique(subset="id", keep="last", maintain_order=True)
    return (
        score_rows.filter(pl.col("ring_id").is_not_null())
        .group_by("ring_id", maintain_order=True)
        .agg(pl.len().cast(pl.Int64).alias("size"), pl.col("risk").mean().alias("mean_risk"))
        .select(pl.col("ring_id").alias("id"), "size", pl.lit(None, dtype=pl.Int64).alias("edges"),
                pl.lit(None, dtype=pl.Float64).alias("density"), "mean_risk",
                pl.lit(None, dtype=pl.Float64).alias("ring_score"))
    )


# --- writing ---------------------------------------------------------------------------------


class _Writer:
    """Runs parameterised batches, turning a lost server into a clear ServiceError."""

    def __init__(self, driver: neo4j.Driver, database: str | None, progress: Progress | None, workers: int = 1) -> None:
        self.driver = driver
        self.database = database
        self.progress = progress
        self.workers = workers
        self.seconds: dict[str, float] = {}

    def run(self, cypher: str, params: dict[str, Any] | None = None) -> list[neo4j.Record]:
        try:
            records, _, _ = self.driver.execute_query(
                cypher, parameters_=params or {}, database_=self.database,
                routing_=neo4j.RoutingControl.WRITE,
            )
        except (ServiceUnavailable, SessionExpired, OSError) as exc:
            raise ServiceError(
                f"lost the connection to Neo4j during the export ({exc}); check it runs "
                "(`ringwatch neo4j status`) and re-run the export: it is idempotent and completes what is missing"
            ) from exc
        except Neo4jError as exc:
            raise ServiceError(f"Neo4j rejected an export query: {exc.message or exc}") from exc
        return records

    def autocommit(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run in an implicit transaction (needed for ``CALL {...} IN TRANSACTIONS``)."""
        try:
            with self.driver.session(database=self.database) as session:
                return session.run(cypher, params or {}).data()
        except (ServiceUnavailable, SessionExpired, OSError) as exc:
            raise ServiceError(f"lost the connection to Neo4j during the export ({exc}); re-run the export") from exc

    def batches(self, label: str, cypher: str, df: pl.DataFrame, batch_size: int,
                params: dict[str, Any] | None = None) -> int:
        """Send ``df`` as ``$rows`` in batches; return the sum of the query's ``n`` column (if any).

        Up to ``self.workers`` batches are in flight at once, each its own managed transaction
        (the driver retries transient failures such as deadlocks, so a batch applies once).
        """
        task = self.progress.add_task(label, total=df.height) if self.progress else None
        returned = 0
        t0 = time.monotonic()

        def send(start: int) -> tuple[int, int]:
            chunk = df.slice(start, batch_size)
            records = self.run(cypher, {**(params or {}), "rows": chunk.to_dicts()})
            n = int(records[0]["n"] or 0) if records and "n" in records[0].keys() else 0
            return n, chunk.height

        starts = iter(range(0, df.height, batch_size))
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            pending = {pool.submit(send, s) for s in islice(starts, 2 * self.workers)}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    n, height = fut.result()
                    returned += n
                    if self.progress is not None and task is not None:
                        self.progress.advance(task, height)
                pending |= {pool.submit(send, s) for s in islice(starts, len(done))}
        self.seconds[label] = round(self.seconds.get(label, 0.0) + time.monotonic() - t0, 3)
        return returned


def ensure_schema(driver: neo4j.Driver, database: str | None = None) -> None:
    """Create the constraints and indexes (idempotent) and wait until they are online."""
    writer = _Writer(driver, database, None)
    for statement in SCHEMA:
        writer.run(statement)
    writer.autocommit("CALL db.awaitIndexes(300)")


def _rel_count(writer: _Writer, rel_type: str) -> int:
    t = _checked_type(rel_type)
    return int(writer.run(f"MATCH ()-[e:{t}]->() RETURN count(e) AS n")[0]["n"])


def graph_counts(driver: neo4j.Driver, database: str | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """Node counts per Ringwatch label and relationship counts per type (from Neo4j's count store).

    Returns:
        ``(nodes, relationships)``.
    """
    writer = _Writer(driver, database, None)
    nodes = {label: int(writer.run(f"MATCH (n:{label}) RETURN count(n) AS n")[0]["n"])
             for label in ("Account", "Device", "IP", "Ring")}
    types = [r["relationshipType"] for r in writer.run("CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType")]
    rels = {t: _rel_count(writer, t) for t in sorted(types) if _REL_TYPE.match(t)}
    return nodes, {t: n for t, n in rels.items() if n}


def _link_query(rel_type: str, src_label: str, dst_label: str, fresh: bool, version_key: str) -> str:
    t = _checked_type(rel_type)
    verb = "CREATE" if fresh else "MERGE"
    return (
        "UNWIND $rows AS r "
        f"MATCH (a:{src_label} {{id: r.src}}) MATCH (b:{dst_label} {{id: r.dst}}) "
        f"{verb} (a)-[e:{t}]->(b) "
        f"SET e.count = r.count, e.first_ts = {_FIRST}, e.last_ts = {_LAST}, e.{version_key} = $version"
    )


def _retire(writer: _Writer, rel_type: str, version_key: str, version: str) -> int:
    t = _checked_type(rel_type)
    rows = writer.autocommit(
        f"MATCH ()-[e:{t}]->() WHERE e.{version_key} IS NULL OR e.{version_key} <> $version "
        "CALL (e) { DELETE e } IN TRANSACTIONS OF 50000 ROWS RETURN count(*) AS n",
        {"version": version},
    )
    return int(rows[0]["n"]) if rows else 0


def _drop_type(writer: _Writer, rel_type: str) -> int:
    """Delete every relationship of a type the new snapshot no longer has at all."""
    t = _checked_type(rel_type)
    rows = writer.autocommit(
        f"MATCH ()-[e:{t}]->() CALL (e) {{ DELETE e }} IN TRANSACTIONS OF 50000 ROWS RETURN count(*) AS n"
    )
    return int(rows[0]["n"]) if rows else 0


def _new_progress(console: Console | None) -> Progress | None:
    if console is None:
        return None
    return Progress(
        TextColumn("[bold]{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )


def export(
    driver: neo4j.Driver,
    snapshot_dir: Path,
    scores_dir: Path | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    database: str | None = None,
    console: Console | None = None,
) -> ExportReport:
    """Export one snapshot version (and optionally one score set) into Neo4j.

    Idempotent: re-running with the same versions leaves the same nodes and relationships.
    Incremental: relationships and ring memberships absent from the new versions are
    removed; score properties are rewritten only where they changed.

    Args:
        driver: A connected driver (see :func:`services.neo4j_server.connect`).
        snapshot_dir: A published snapshot version directory.
        scores_dir: A published scores version directory, or ``None`` for the graph only.
        batch_size: Rows per UNWIND transaction.
        workers: Batches in flight at once (separate transactions).
        database: Neo4j database; ``None`` is the server's default.
        console: Where to draw progress bars; ``None`` draws none.

    Returns:
        What was written, with counts after the export and rows/s.

    Raises:
        InputError: A table is unreadable or a relation name is not an identifier.
        ServiceError: Neo4j is unreachable or went away mid-export (re-run to complete).
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    t0 = time.monotonic()
    snapshot_manifest = json.loads((snapshot_dir / "manifest.json").read_text())
    snapshot_version = str(snapshot_manifest.get("version", snapshot_dir.name))
    scores_manifest = json.loads((scores_dir / "manifest.json").read_text()) if scores_dir else {}
    scores_version = str(scores_manifest.get("version", scores_dir.name)) if scores_dir else None
    model_version = scores_manifest.get("model_version") if scores_dir else None
    report = ExportReport(snapshot_version=snapshot_version, scores_version=scores_version, model_version=model_version)

    accounts = _accounts_rows(snapshot_dir)
    relation_files = sorted((snapshot_dir / SNAPSHOT_RELATIONS_DIR).glob("*.parquet"))
    relations = [(relation_type(p.stem), p) for p in relation_files]
    infra = [
        ("USES_DEVICE", "Device", snapshot_dir / SNAPSHOT_ACCOUNT_DEVICE, "device_id"),
        ("USES_IP", "IP", snapshot_dir / SNAPSHOT_ACCOUNT_IP, "ip"),
    ]

    ensure_schema(driver, database)
    progress = _new_progress(console)
    writer = _Writer(driver, database, progress, workers)
    meta = writer.run("MATCH (m:RingwatchExport {id: $id}) RETURN m.relation_types AS types", {"id": META_ID})
    previous_types = set(meta[0]["types"] or []) if meta else set()

    with progress or nullcontext():
        # Accounts: every id of the snapshot, plus endpoints only the relation tables name.
        writer.batches(
            "accounts", "UNWIND $rows AS r MERGE (a:Account {id: r.id}) "
            f"SET a += coalesce(r.f, {{}}), a.first_ts = {_FIRST}, a.last_ts = {_LAST}, a.snapshot_version = $version",
            accounts, batch_size, {"version": snapshot_version},
        )
        report.rows["accounts"] = accounts.height
        edge_tables: list[tuple[str, pl.DataFrame]] = []
        for rel_type, path in relations:
            edges = _edge_rows(_read(path, ("src", "dst")), "src", "dst")
            edge_tables.append((rel_type, edges))
        known = accounts.select("id")
        endpoints = pl.concat([pl.concat([e.select(pl.col("src").alias("id")), e.select(pl.col("dst").alias("id"))])
                               for _, e in edge_tables] or [known.clear()]).unique()
        extra = endpoints.join(known, on="id", how="anti")
        if extra.height:
            writer.batches("accounts (endpoints)", "UNWIND $rows AS r MERGE (a:Account {id: r.id})", extra, batch_size)
            report.rows["accounts_endpoints"] = extra.height

        exported_types: list[str] = []
        for rel_type, target_label, path, column in infra:
            if not path.is_file():
                continue
            links = _edge_rows(_read(path, ("account_id", column)), "account_id", column)
            things = links.select(pl.col("dst").alias("id")).unique()
            writer.batches(f"{target_label.lower()}s", f"UNWIND $rows AS r MERGE (:{target_label} {{id: r.id}})", things, batch_size)
            fresh = _rel_count(writer, rel_type) == 0
            writer.batches(rel_type.lower(), _link_query(rel_type, "Account", target_label, fresh, "snapshot_version"),
                           links, batch_size, {"version": snapshot_version})
            report.rows[target_label.lower()] = things.height
            report.rows[rel_type.lower()] = links.height
            exported_types.append(rel_type)

        for rel_type, edges in edge_tables:
            fresh = _rel_count(writer, rel_type) == 0
            writer.batches(rel_type.lower(), _link_query(rel_type, "Account", "Account", fresh, "snapshot_version"),
                           edges, batch_size, {"version": snapshot_version})
            report.rows[rel_type.lower()] = edges.height
            exported_types.append(rel_type)

        if scores_dir is not None and scores_version is not None:
            scores = _scores_rows(scores_dir)
            report.changed_scores = writer.batches(
                "scores",
                "UNWIND $rows AS r MERGE (a:Account {id: r.id}) "
                "WITH a, r WHERE a.risk IS NULL OR a.risk <> r.risk OR a.level IS NULL OR a.level <> r.level "
                "OR coalesce(a.ring_id, '') <> coalesce(r.ring_id, '') OR coalesce(a.reasons, []) <> r.reasons "
                "SET a.risk = r.risk, a.level = r.level, a.ring_id = r.ring_id, a.reasons = r.reasons, "
                "a.scores_version = $version, a.model_version = $model "
                "RETURN count(a) AS n",
                scores, batch_size, {"version": scores_version, "model": model_version},
            )
            report.rows["scores"] = scores.height
            rings = _rings_rows(scores_dir, scores)
            writer.batches(
                "rings", "UNWIND $rows AS r MERGE (g:Ring {id: r.id}) "
                "SET g.size = r.size, g.edges = r.edges, g.density = r.density, g.mean_risk = r.mean_risk, "
                "g.ring_score = r.ring_score, g.scores_version = $version",
                rings, batch_size, {"version": scores_version},
            )
            report.rows["rings"] = rings.height
            members = scores.filter(pl.col("ring_id").is_not_null()).select(
                pl.col("id").alias("src"), pl.col("ring_id").alias("dst"),
                pl.lit(None, dtype=pl.Int64).alias("count"), pl.lit(None, dtype=pl.Int64).alias("first_ms"),
                pl.lit(None, dtype=pl.Int64).alias("last_ms"),
            )
            fresh = _rel_count(writer, "MEMBER_OF") == 0
            writer.batches("member_of", _link_query("MEMBER_OF", "Account", "Ring", fresh, "scores_version"),
                           members, batch_size, {"version": scores_version})
            report.rows["member_of"] = members.height

    # Retire what the new versions no longer have (only after everything above succeeded).
    for rel_type in exported_types:
        if n := _retire(writer, rel_type, "snapshot_version", snapshot_version):
            report.retired[rel_type] = n
    for rel_type in sorted(previous_types - set(exported_types) - {"MEMBER_OF"}):
        if _REL_TYPE.match(rel_type) and (n := _drop_type(writer, rel_type)):
            report.retired[rel_type] = n
    if scores_version is not None:
        if n := _retire(writer, "MEMBER_OF", "scores_version", scores_version):
            report.retired["MEMBER_OF"] = n
        gone = writer.run("MATCH (g:Ring) WHERE g.scores_version <> $version DETACH DELETE g RETURN count(*) AS n",
                          {"version": scores_version})
        if gone and gone[0]["n"]:
            report.retired["Ring"] = int(gone[0]["n"])

    writer.run(
        "MERGE (m:RingwatchExport {id: $id}) SET m.snapshot_version = $snapshot, m.scores_version = $scores, "
        "m.model_version = $model, m.relation_types = $types, m.exported_at = datetime()",
        {"id": META_ID, "snapshot": snapshot_version, "scores": scores_version, "model": model_version,
         "types": sorted(set(exported_types))},
    )
    report.seconds_by_step = dict(writer.seconds)
    report.nodes, report.relationships = graph_counts(driver, database)
    report.seconds = time.monotonic() - t0
    report.rows_per_s = report.total_rows / report.seconds if report.seconds > 0 else 0.0
    return report


def resolve_versions(
    snapshots: VersionedDir, scores: VersionedDir, snapshot: str | None = None, score_set: str | None = None,
) -> tuple[Path, Path | None]:
    """The directories to export: the named versions, else the current ones.

    Without ``snapshot``, the score set's own ``snapshot_version`` is used when it exists,
    so scores and graph match; without any published scores only the graph is exported.

    Raises:
        NotFoundError: A named version does not exist, or no snapshot was published.
    """
    scores_dir: Path | None
    if score_set is not None:
        scores_dir = scores.path(score_set)
    else:
        scores_dir = scores.path() if scores.current() else None
    if snapshot is None and scores_dir is not None:
        wanted = json.loads((scores_dir / "manifest.json").read_text()).get("snapshot_version")
        if wanted and wanted in snapshots.versions():
            snapshot = wanted
    return snapshots.path(snapshot), scores_dir


def set_verdict(driver: neo4j.Driver, account_id: str, label: int, note: str | None = None,
                *, source: str = "investigator", database: str | None = None) -> dict[str, Any]:
    """Record an investigator's verdict on an account in Neo4j.

    Sets ``label`` (1 abusive / 0 benign, as in the labels table), ``verdict``
    (``"abusive"``/``"benign"``), ``verdict_note``, ``verdict_source`` and ``verdict_at``.
    The caller also appends the verdict to the labels table so training picks it up.

    Args:
        driver: A connected driver.
        account_id: The account.
        label: 1 for abusive, 0 for benign.
        note: Free text; stored as a parameter, never interpreted.
        source: Who decided.
        database: Neo4j database; ``None`` is the default.

    Returns:
        The account's id, verdict and risk as stored.

    Raises:
        ConfigError: ``label`` is not 0 or 1.
        NotFoundError: The account is not in Neo4j (export first).
    """
    if label not in (0, 1):
        raise ConfigError(f"label must be 1 (abusive) or 0 (benign), got {label!r}")
    records = _Writer(driver, database, None).run(
        "MATCH (a:Account {id: $id}) "
        "SET a.label = $label, a.verdict = $verdict, a.verdict_note = $note, a.verdict_source = $source, "
        "a.verdict_at = datetime() "
        "RETURN a.id AS account_id, a.verdict AS verdict, a.label AS label, a.risk AS risk, a.verdict_note AS note",
        {"id": str(account_id), "label": int(label), "verdict": "abusive" if label else "benign",
         "note": note, "source": source},
    )
    if not records:
        raise NotFoundError(f"account {account_id!r} is not in Neo4j; export a snapshot that contains it first")
    return dict(records[0])
