"""Export a graph snapshot and a score set into Neo4j, idempotently and incrementally.

The graph in Neo4j (what investigators query)::

    (:Account {id, first_ms, last_ms, <features>, risk, level, ring_id, reasons,
               snapshot_version, scores_version, model_version, verdict, label, verdict_note})
    (:Device {id})  (:IP {id})
    (:Ring {id, size, edges, density, synchrony, mean_risk, ring_score, related, related_links})
    (:Account)-[:FOLLOW|LIKE|COMMENT|MESSAGE|SHARE|... {count, first_ms, last_ms}]->(:Account)
    (:Account)-[:SHARED_DEVICE|SHARED_IP|COACTION|SAME_TEXT {count, ...}]->(:Account)  (src < dst; query undirected)
    (:Account)-[:ANSWERS {count, first_ms, last_ms}]->(:Account)  (answerer → answered: who acted next on a target)
    (:Account)-[:USES_DEVICE {count, first_ms, last_ms}]->(:Device)
    (:Account)-[:USES_IP {count, first_ms, last_ms}]->(:IP)
    (:Account)-[:MEMBER_OF]->(:Ring)
    (:RingwatchExport {id: 'graph', snapshot_version, scores_version, model_version, relation_types, exported_at})

How it is written (:func:`export` picks with ``method="auto"``): into an empty embedded
database of at least :data:`BULK_MIN_ROWS` rows, Neo4j's own bulk importer
(``neo4j-admin database import full``) builds a fresh store from CSV files that replaces the
empty one; into any other empty database, ``UNWIND $rows AS r CREATE ...`` batches; into a
populated one, ``UNWIND $rows AS r MERGE ...`` batches, skipping versions the meta node
says are already complete and sending only the scores that differ from the exported score
set. All three produce the same graph (tested). Every write of the Cypher paths is
``UNWIND $rows AS r MERGE/CREATE ...`` with the data as parameters; the bulk path's data
are CSV fields, quoted by Polars and typed by header names the code fixes. Relationship
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
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from itertools import islice
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
from ringwatch.versions import Home, VersionedDir, write_atomic

DEFAULT_BATCH_SIZE = 20_000
"""Rows per transaction: big enough to amortise round trips, small enough for a 2 GiB heap."""
DEFAULT_WORKERS = 2
"""Batches in flight at once: one packs rows in Python while Neo4j applies another (1.5x on 2 cores)."""
RINGS_TABLE = "rings.parquet"
META_ID = "graph"
METHODS = ("auto", "bulk", "create", "merge")
"""How to write: ``auto`` picks the fastest correct one of the other three (see :func:`export`)."""
BULK_MIN_ROWS = 500_000
"""Below this many rows CREATE batches beat the importer's fixed cost (importer JVM + server restart,
~60 s on 2 busy cores; measured crossover ~530k rows: CREATE ~7.7k rows/s, bulk ~65 s + 125k rows/s)."""
BULK_PENDING = "bulk-import.pending"
"""Marker under ``HOME/neo4j``: a bulk load swapped its store in but has not finished (schema, meta)."""
_ARRAY_DELIMITER = "\x1f"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ACCOUNT_KEYS = {"id", "first_ms", "last_ms", "snapshot_version", "risk", "level", "ring_id", "reasons",
                 "scores_version", "model_version", "label", "verdict", "verdict_note", "verdict_source", "verdict_at"}

_SCORE_PROPERTIES = ("a.risk, a.level, a.ring_id, a.reasons, a.scores_version, a.model_version")
"""The properties a score set writes on an account (removed where a later set no longer scores it)."""

_RELATION_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_REL_TYPE = re.compile(r"^[A-Z_][A-Z0-9_]*$")

SCHEMA: tuple[str, ...] = (
    "CREATE INDEX account_level IF NOT EXISTS FOR (a:Account) ON (a.level)",
    "CREATE INDEX account_ring_id IF NOT EXISTS FOR (a:Account) ON (a.ring_id)",
    "CREATE INDEX account_risk IF NOT EXISTS FOR (a:Account) ON (a.risk)",
    "CREATE CONSTRAINT account_id IF NOT EXISTS FOR (a:Account) REQUIRE a.id IS UNIQUE",
    "CREATE CONSTRAINT device_id IF NOT EXISTS FOR (d:Device) REQUIRE d.id IS UNIQUE",
    "CREATE CONSTRAINT ip_id IF NOT EXISTS FOR (i:IP) REQUIRE i.id IS UNIQUE",
    "CREATE CONSTRAINT ring_id IF NOT EXISTS FOR (g:Ring) REQUIRE g.id IS UNIQUE",
    "CREATE CONSTRAINT export_meta_id IF NOT EXISTS FOR (m:RingwatchExport) REQUIRE m.id IS UNIQUE",
)
"""Investigator indexes, then uniqueness constraints (which also index the ids MERGE looks up).
Indexes populate in the background and each constraint waits for its own, so on a loaded graph
the investigator indexes are built while the constraints are (1M accounts: ~3 s less)."""

_UNIQUE: dict[str, tuple[list[str], list[str]]] = {
    m["name"]: ([m["label"]], [m["prop"]])
    for s in SCHEMA
    if (m := re.match(r"^CREATE CONSTRAINT (?P<name>\w+) IF NOT EXISTS FOR \(\w+:(?P<label>\w+)\) "
                      r"REQUIRE \w+\.(?P<prop>\w+) IS UNIQUE$", s))
}
""":data:`SCHEMA`'s uniqueness constraints: name → (labels, properties), as ``SHOW INDEXES`` lists them."""


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
        method: How it was written: ``bulk`` (Neo4j's importer into a fresh store),
            ``create`` (CREATE batches into an empty database) or ``merge`` (MERGE batches).
        unchanged: Tables not sent because their version was already exported completely.
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
    method: str = "merge"
    unchanged: list[str] = field(default_factory=list)

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


def feature_property(column: str) -> str:
    """The account property a numeric snapshot column is stored as: its own name, or
    ``feature_<name>`` where that name is one of the account's own properties (an imported
    graph's ``label`` column must not overwrite an investigator's verdict label)."""
    return f"feature_{column}" if column in _ACCOUNT_KEYS else column


def _accounts_rows(snapshot: Path) -> pl.DataFrame:
    df = _read(snapshot / SNAPSHOT_ACCOUNTS, ("account_id",))
    features = [c for c, t in df.schema.items() if c not in ("account_id", "first_ts", "last_ts") and t.is_numeric()]
    taken = set(df.columns)
    clash = [c for c in features if feature_property(c) != c and feature_property(c) in taken]
    if clash:
        raise InputError(f"{snapshot / SNAPSHOT_ACCOUNTS}: column(s) {clash} name account properties of the export and "
                         f"their stand-ins ({', '.join(feature_property(c) for c in clash)}) are taken too; rename one")
    return df.select(
        pl.col("account_id").cast(pl.String).alias("id"),
        _epoch_ms(df, "first_ts", "first_ms"),
        _epoch_ms(df, "last_ts", "last_ms"),
        (pl.struct([pl.col(c).cast(pl.Float64).alias(feature_property(c)) for c in features])
         if features else pl.lit(None)).alias("f"),
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


_RING_TYPES = {"size": pl.Int64, "edges": pl.Int64, "density": pl.Float64, "synchrony": pl.Float64,
               "mean_risk": pl.Float64, "ring_score": pl.Float64}


_RING_LISTS = {"related": pl.List(pl.String), "related_links": pl.List(pl.Int64)}
"""The ring table's list columns, written as array properties (absent where empty)."""


def _rings_rows(scores: Path, score_rows: pl.DataFrame) -> pl.DataFrame:
    types = {**_RING_TYPES, **_RING_LISTS}
    path = scores / RINGS_TABLE
    if path.is_file():
        df = _read(path, ("ring_id",))
    else:  # a score set without a rings table: the ring ids its scores name, with what they tell
        df = (score_rows.filter(pl.col("ring_id").is_not_null()).group_by("ring_id", maintain_order=True)
              .agg(pl.len().alias("size"), pl.col("risk").mean().alias("mean_risk")))
    if all(isinstance(df.schema.get(c), pl.List) for c in ("related", "related_links")) and df.select(
            (pl.col("related").list.len().fill_null(0) != pl.col("related_links").list.len().fill_null(0)).any()).item():
        raise InputError(f"{path}: related and related_links must list the same number of rings on every row")
    return df.select(
        pl.col("ring_id").cast(pl.String).alias("id"),
        *[(pl.col(c).cast(t) if c in df.columns else pl.lit(None, dtype=t)).alias(c) for c, t in types.items()],
    ).with_columns(
        pl.when(pl.col(c).list.len() > 0).then(pl.col(c)).alias(c) for c in _RING_LISTS  # [] as no property, like the bulk importer
    ).unique(subset="id", keep="last", maintain_order=True)


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
        except Neo4jError as exc:
            raise ServiceError(f"Neo4j rejected an export query: {exc.message or exc}") from exc

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
    """Create the constraints and indexes (idempotent) and wait until they are online.

    A server killed while it created a uniqueness constraint can come back with an index under
    the constraint's name but no constraint; ``CREATE CONSTRAINT ... IF NOT EXISTS`` then fails
    on the name for good. Such a leftover (an index that no constraint owns, with one of
    :data:`SCHEMA`'s constraint names and that constraint's label and property) is dropped
    first, so the re-run an interrupted export asks for completes. Any other index holding one
    of those names is left alone and the export fails on it as before.
    """
    writer = _Writer(driver, database, None)
    leftovers = writer.run("SHOW INDEXES YIELD name, owningConstraint, labelsOrTypes, properties "
                           "WHERE owningConstraint IS NULL AND name IN $names RETURN name, labelsOrTypes, properties",
                           {"names": sorted(_UNIQUE)})
    for r in leftovers:
        if (list(r["labelsOrTypes"] or []), list(r["properties"] or [])) == _UNIQUE[r["name"]]:
            writer.run(f"DROP INDEX {r['name']} IF EXISTS")  # a name from SCHEMA, never user input
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
        f"SET e.count = r.count, e.first_ms = r.first_ms, e.last_ms = r.last_ms, e.{version_key} = $version"
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


@dataclass
class _Tables:
    """Everything one export writes, read and normalised once."""

    snapshot_version: str
    scores_version: str | None
    model_version: str | None
    accounts: pl.DataFrame
    extra: pl.DataFrame
    edges: list[tuple[str, pl.DataFrame]]
    infra: list[tuple[str, str, pl.DataFrame, pl.DataFrame]]
    scores: pl.DataFrame | None
    rings: pl.DataFrame | None
    members: pl.DataFrame | None

    @property
    def total_rows(self) -> int:
        n = self.accounts.height + self.extra.height + sum(e.height for _, e in self.edges)
        n += sum(t.height + links.height for _, _, t, links in self.infra)
        for df in (self.scores, self.rings, self.members):
            n += df.height if df is not None else 0
        return n


def _load(snapshot_dir: Path, scores_dir: Path | None) -> _Tables:
    snapshot_manifest = json.loads((snapshot_dir / "manifest.json").read_text())
    snapshot_version = str(snapshot_manifest.get("version", snapshot_dir.name))
    scores_manifest = json.loads((scores_dir / "manifest.json").read_text()) if scores_dir else {}
    scores_version = str(scores_manifest.get("version", scores_dir.name)) if scores_dir else None
    model_version = scores_manifest.get("model_version") if scores_dir else None

    accounts = _accounts_rows(snapshot_dir)
    relations = [(relation_type(p.stem), p) for p in sorted((snapshot_dir / SNAPSHOT_RELATIONS_DIR).glob("*.parquet"))]
    edges = [(rel_type, _edge_rows(_read(path, ("src", "dst")), "src", "dst")) for rel_type, path in relations]
    known = accounts.select("id")
    endpoints = pl.concat([pl.concat([e.select(pl.col("src").alias("id")), e.select(pl.col("dst").alias("id"))])
                           for _, e in edges] or [known.clear()]).unique(maintain_order=True)
    extra = endpoints.join(known, on="id", how="anti")
    infra = []
    for rel_type, target_label, path, column in (
        ("USES_DEVICE", "Device", snapshot_dir / SNAPSHOT_ACCOUNT_DEVICE, "device_id"),
        ("USES_IP", "IP", snapshot_dir / SNAPSHOT_ACCOUNT_IP, "ip"),
    ):
        if path.is_file():
            links = _edge_rows(_read(path, ("account_id", column)), "account_id", column)
            infra.append((rel_type, target_label, links.select(pl.col("dst").alias("id")).unique(maintain_order=True), links))
    scores = rings = members = None
    if scores_dir is not None:
        scores = _scores_rows(scores_dir)
        rings = _rings_rows(scores_dir, scores)
        members = scores.filter(pl.col("ring_id").is_not_null()).select(
            pl.col("id").alias("src"), pl.col("ring_id").alias("dst"),
            pl.lit(None, dtype=pl.Int64).alias("count"), pl.lit(None, dtype=pl.Int64).alias("first_ms"),
            pl.lit(None, dtype=pl.Int64).alias("last_ms"),
        )
    return _Tables(snapshot_version, scores_version, model_version, accounts, extra, edges, infra, scores, rings, members)


def _read_meta(writer: _Writer) -> dict[str, Any]:
    rows = writer.run("MATCH (m:RingwatchExport {id: $id}) RETURN m.snapshot_version AS snapshot_version, "
                      "m.scores_version AS scores_version, m.relation_types AS relation_types", {"id": META_ID})
    return dict(rows[0]) if rows else {}


def _is_empty(writer: _Writer) -> bool:
    return int(writer.run("MATCH (n) RETURN count(n) AS n")[0]["n"]) == 0


def _bulk_blocker(t: _Tables) -> str | None:
    """Why the bulk importer cannot write these tables exactly as the Cypher path would, or ``None``."""
    features = [f.name for f in t.accounts.schema["f"].fields] if isinstance(t.accounts.schema["f"], pl.Struct) else []
    bad = [f for f in features if not _IDENT.match(f)]  # names of account properties were renamed (feature_property)
    if bad:
        return f"feature column(s) {bad} are not plain identifiers"
    for df, column, what in ((t.scores, "reasons", "a reason"), (t.rings, "related", "a related ring id")):
        if df is not None and df.select(
                pl.col(column).list.eval(pl.element().str.contains(_ARRAY_DELIMITER, literal=True)).list.any().any()).item():
            return f"{what} contains the importer's array delimiter (U+001F)"
    return None


def _bulk_csvs(t: _Tables, out: Path) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]], bool]:
    """Write the importer's CSV files (header line first); return nodes, relationships, multiline.

    Nodes get dense integer import ids (``:ID(Label)``, not stored as a property) next to their
    string ``id`` property, and relationships name their ends by those integers: the importer
    maps integers much faster than strings (``--id-type=integer``; 33 s → 16 s for 4.7M
    relationships here). Times are epoch-millisecond longs, as the Cypher paths store them.
    """
    out.mkdir(parents=True)
    nodes: list[tuple[str, Path]] = []
    rels: list[tuple[str, Path]] = []
    codes: dict[str, pl.DataFrame] = {}
    multiline = False

    def write(df: pl.DataFrame, name: str) -> Path:
        nonlocal multiline
        texts = [c for c, d in df.schema.items() if d == pl.String]
        if texts and not multiline:
            multiline = bool(df.select(pl.any_horizontal(pl.col(texts).str.contains(r"[\r\n]")).any()).item())
        path = out / f"{name}.csv"
        df.write_csv(path, null_value="", quote_style="necessary")
        return path

    def node_file(label: str, df: pl.DataFrame, name: str) -> None:
        """``df`` has unique string ``id`` first; its rows get integer import ids 0..n-1."""
        df = df.with_row_index(f":ID({label})")
        codes[label] = df.select("id", pl.col(f":ID({label})").alias("code"))
        nodes.append((label, write(df, name)))

    def rel_file(rel_type: str, df: pl.DataFrame, src_label: str, dst_label: str, name: str) -> None:
        """``df`` has string ``src``/``dst`` and the relationship's properties."""
        df = (df.join(codes[src_label].rename({"id": "src", "code": f":START_ID({src_label})"}), on="src")
              .join(codes[dst_label].rename({"id": "dst", "code": f":END_ID({dst_label})"}), on="dst")
              .drop("src", "dst"))
        rels.append((rel_type, write(df.select(f":START_ID({src_label})", f":END_ID({dst_label})",
                                               pl.exclude(f":START_ID({src_label})", f":END_ID({dst_label})")), name)))

    acc = t.accounts
    features = [f.name for f in acc.schema["f"].fields] if isinstance(acc.schema["f"], pl.Struct) else []
    acc = acc.select("id", pl.col("first_ms").alias("first_ms:long"), pl.col("last_ms").alias("last_ms:long"),
                     *[pl.col("f").struct.field(f).alias(f"{f}:double") for f in features],
                     pl.lit(t.snapshot_version).alias("snapshot_version"))
    ids = pl.concat([acc.select("id"), t.extra.select("id")]
                    + ([t.scores.select("id")] if t.scores is not None else [])).unique(maintain_order=True)
    acc = ids.join(acc, on="id", how="left")
    if t.scores is not None:
        sc = t.scores.select(
            "id", pl.col("risk").alias("risk:double"), "level", "ring_id",
            pl.when(pl.col("reasons").list.len() > 0).then(pl.col("reasons").list.join(_ARRAY_DELIMITER))
            .alias("reasons:string[]"),
            pl.lit(t.scores_version).alias("scores_version"),
            pl.lit(t.model_version, dtype=pl.String).alias("model_version"),
        )
        acc = acc.join(sc, on="id", how="left")
    node_file("Account", acc, "accounts")
    for rel_type, label, things, links in t.infra:
        node_file(label, things, label.lower())
        rel_file(rel_type, _rel_frame(links, "snapshot_version", t.snapshot_version), "Account", label, rel_type.lower())
    for rel_type, edges in t.edges:
        rel_file(rel_type, _rel_frame(edges, "snapshot_version", t.snapshot_version), "Account", "Account", rel_type.lower())
    if t.rings is not None and t.members is not None:
        rings = t.rings.select("id", pl.col("size").alias("size:long"),
                               pl.col("edges").alias("edges:long"), pl.col("density").alias("density:double"),
                               pl.col("synchrony").alias("synchrony:double"), pl.col("mean_risk").alias("mean_risk:double"), pl.col("ring_score").alias("ring_score:double"),
                               pl.col("related").list.join(_ARRAY_DELIMITER).alias("related:string[]"),
                               pl.col("related_links").cast(pl.List(pl.String)).list.join(_ARRAY_DELIMITER).alias("related_links:long[]"),
                               pl.lit(t.scores_version).alias("scores_version"))
        node_file("Ring", rings, "rings")
        # The Cypher path's MATCH skips members of rings the rings table lacks; the join in rel_file does too.
        rel_file("MEMBER_OF", t.members.select("src", "dst", pl.lit(t.scores_version).alias("scores_version")),
                 "Account", "Ring", "member_of")
    return nodes, rels, multiline


def _rel_frame(df: pl.DataFrame, version_key: str, version: str) -> pl.DataFrame:
    return df.select("src", "dst", pl.col("count").alias("count:long"), pl.col("first_ms").alias("first_ms:long"),
                     pl.col("last_ms").alias("last_ms:long"), pl.lit(version).alias(version_key))


def _meta(t: _Tables, types: list[str]) -> dict[str, Any]:
    """What the meta node records once an export of ``t`` is complete."""
    return {"snapshot": t.snapshot_version, "scores": t.scores_version, "model": t.model_version, "types": sorted(set(types))}


def _write_meta(writer: _Writer, meta: dict[str, Any]) -> None:
    writer.run(
        "MERGE (m:RingwatchExport {id: $id}) SET m.snapshot_version = $snapshot, m.scores_version = $scores, "
        "m.model_version = $model, m.relation_types = $types, m.exported_at = datetime()",
        {"id": META_ID, **meta},
    )


def _mark_writing(writer: _Writer, *, graph: bool, scores: bool) -> None:
    """Forget the versions an export is about to overwrite, before its first write: until its meta
    is written the database holds a mix, and a later export must compare against Neo4j's own
    values, not against the files of the version the meta named."""
    unset = [f"m.{key} = null" for key, writing in (("snapshot_version", graph), ("scores_version", scores)) if writing]
    if unset:
        writer.run(f"MATCH (m:RingwatchExport {{id: $id}}) SET {', '.join(unset)}", {"id": META_ID})


def _read_pending(path: Path) -> dict[str, Any] | None:
    """The bulk load marker: ``None`` without one; a marker from before phases were written (or
    unreadable) reads as ``importing``."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data = data if isinstance(data, dict) else {}
    if data.get("phase") != "swapped" or not isinstance(data.get("meta"), dict):
        return {"phase": "importing"}
    return data


def _finish_bulk(driver: neo4j.Driver, marker: Path, meta: dict[str, Any], database: str | None) -> None:
    """The steps after a bulk load's store swap: schema, meta node, marker gone."""
    ensure_schema(driver, database)
    _write_meta(_Writer(driver, database, None), meta)
    marker.unlink(missing_ok=True)


def _report_rows(report: ExportReport, t: _Tables) -> None:
    report.rows["accounts"] = t.accounts.height
    if t.extra.height:
        report.rows["accounts_endpoints"] = t.extra.height
    for rel_type, label, things, links in t.infra:
        report.rows[label.lower()] = things.height
        report.rows[rel_type.lower()] = links.height
    for rel_type, edges in t.edges:
        report.rows[rel_type.lower()] = edges.height
    if t.scores is not None and t.rings is not None and t.members is not None:
        report.rows["scores"] = t.scores.height
        report.rows["rings"] = t.rings.height
        report.rows["member_of"] = t.members.height


def _exported_types(t: _Tables) -> list[str]:
    return [rel for rel, _, _, _ in t.infra] + [rel for rel, _ in t.edges]


def _forget_bookmarks(driver: neo4j.Driver) -> None:
    """Drop the bookmarks ``execute_query`` collected from the store the bulk load replaced.

    They name transactions of the old store; the new one starts again at transaction 2 and
    would make every later ``execute_query`` on this driver wait for them and time out. The
    driver has no public reset, so its default manager is swapped for a fresh one.
    """
    if hasattr(driver, "_query_bookmark_manager"):
        driver._query_bookmark_manager = neo4j.GraphDatabase.bookmark_manager()


def _bulk_export(driver: neo4j.Driver, t: _Tables, report: ExportReport, server_home: Path,
                 database: str | None, console: Console | None) -> None:
    from services import neo4j_server

    neo4j_dir = Home(server_home).neo4j
    pending = neo4j_dir / BULK_PENDING
    csv_dir = neo4j_dir / "bulk-csv"
    say = (lambda line: console.print(f"[dim]{line}[/]")) if console is not None else None
    shutil.rmtree(csv_dir, ignore_errors=True)
    step = time.monotonic()
    nodes, rels, multiline = _bulk_csvs(t, csv_dir)
    report.seconds_by_step["write csv"] = round(time.monotonic() - step, 3)
    step = time.monotonic()
    meta = _meta(t, _exported_types(t))
    neo4j_server.bulk_import(server_home, nodes, rels, array_delimiter="U+001F", multiline=multiline, id_type="integer",
                             before_swap=lambda: write_atomic(pending, json.dumps({"phase": "importing", "meta": meta})),
                             log=say)
    # the new store serves from here on, and investigators may write to it: a rerun must finish
    # this load, never import over it
    write_atomic(pending, json.dumps({"phase": "swapped", "meta": meta}))
    report.seconds_by_step["import + swap"] = round(time.monotonic() - step, 3)
    _forget_bookmarks(driver)
    shutil.rmtree(csv_dir, ignore_errors=True)
    step = time.monotonic()
    _finish_bulk(driver, pending, meta, database)
    report.seconds_by_step["schema"] = round(time.monotonic() - step, 3)
    report.changed_scores = t.scores.height if t.scores is not None else 0


def export(
    driver: neo4j.Driver,
    snapshot_dir: Path,
    scores_dir: Path | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    database: str | None = None,
    console: Console | None = None,
    method: str = "auto",
    server_home: Path | None = None,
) -> ExportReport:
    """Export one snapshot version (and optionally one score set) into Neo4j.

    Idempotent: re-running with the same versions leaves the same nodes and relationships.
    Incremental: relationships and ring memberships absent from the new versions are
    removed, and so are the score properties of accounts the new score set does not score;
    score properties are rewritten only where they changed. The meta node names the
    exported versions only after a complete export (they are cleared before the first
    write), so a run after a failed one diffs nothing against files.

    Three ways to write, ``method="auto"`` picking the fastest correct one:

    * ``bulk`` — the database is empty (or an earlier bulk load stopped before its store
      swap; one stopped after it is finished instead: schema and meta), the server
      is the embedded one (``server_home``) and there are at least :data:`BULK_MIN_ROWS`
      rows: CSV files go through Neo4j's own importer into a fresh store that replaces the
      empty one (the server restarts on the same port); then the schema is created.
    * ``create`` — the database is empty: CREATE instead of MERGE, no score diff.
    * ``merge`` — otherwise: MERGE batches, score diff, retirement of old relationships.

    All three write the same graph (tested). Every value travels as a parameter or a CSV
    field, never as Cypher text.

    Args:
        driver: A connected driver (see :func:`services.neo4j_server.connect`).
        snapshot_dir: A published snapshot version directory.
        scores_dir: A published scores version directory, or ``None`` for the graph only.
        batch_size: Rows per UNWIND transaction.
        workers: Batches in flight at once (separate transactions).
        database: Neo4j database; ``None`` is the server's default.
        console: Where to draw progress bars; ``None`` draws none.
        method: ``auto``, ``bulk``, ``create`` or ``merge``.
        server_home: The Ringwatch home of the embedded server ``driver`` talks to (enables
            ``bulk``); ``None`` for an external server.

    Returns:
        What was written, with counts after the export, rows/s and the method used.

    Raises:
        ConfigError: Bad batch size, workers or method, or a method that cannot apply here.
        InputError: A table is unreadable or a relation name is not an identifier.
        ServiceError: Neo4j is unreachable or went away mid-export (re-run to complete).
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if method not in METHODS:
        raise ConfigError(f"export method must be one of {', '.join(METHODS)}, got {method!r}")
    t0 = time.monotonic()
    t = _load(snapshot_dir, scores_dir)
    report = ExportReport(snapshot_version=t.snapshot_version, scores_version=t.scores_version, model_version=t.model_version)
    _report_rows(report, t)

    writer = _Writer(driver, database, None, workers)
    marker = Home(server_home).neo4j / BULK_PENDING if server_home is not None else None
    state = _read_pending(marker) if marker is not None else None
    if marker is not None and state is not None and state["phase"] == "swapped":
        _finish_bulk(driver, marker, state["meta"], database)  # a load that stopped after its swap: finish it
        state = None
    pending = state is not None  # stopped before or during its swap: the store may be the old one or half made
    empty = _is_empty(writer)
    meta = {} if empty else _read_meta(writer)
    blocker = _bulk_blocker(t)
    requested = method
    if method == "auto":
        if server_home is not None and blocker is None and database in (None, "neo4j") and (
                pending or (empty and t.total_rows >= BULK_MIN_ROWS)):
            method = "bulk"
        else:
            method = "create" if empty else "merge"
    elif method == "bulk":
        if server_home is None or database not in (None, "neo4j"):
            raise ConfigError("the bulk import needs the embedded Neo4j's default database (NEO4J_URI is set?); "
                              "use --method merge")
        if not (empty or pending):
            raise ConfigError("the bulk import only loads an empty database (it replaces the store); use --method merge")
        if blocker:
            raise ConfigError(f"cannot bulk import: {blocker}")
    elif method == "create" and not empty:
        raise ConfigError("--method create needs an empty database; use --method merge")
    report.method = method

    if method == "bulk":
        assert server_home is not None
        _bulk_export(driver, t, report, server_home, database, console)
    else:
        # auto, over a complete earlier export (the meta node is written last): versions already in
        # Neo4j are skipped, and only the scores that differ from the exported score set are sent.
        incremental = report.method == "merge" and requested == "auto" and not pending
        graph_done = incremental and meta.get("snapshot_version") == t.snapshot_version
        previous_scores = meta.get("scores_version") if incremental else None
        scores_done = previous_scores is not None and previous_scores == t.scores_version
        gone: pl.DataFrame | None = None  # with a score diff: the accounts the previous set scored and this one does not
        if t.scores is not None and previous_scores is not None and scores_dir is not None:
            if scores_done:
                for name in ("scores", "rings", "member_of"):
                    report.rows.pop(name, None)
                    report.unchanged.append(name)
            elif re.fullmatch(r"v[0-9]+", str(previous_scores)) and (scores_dir.parent / str(previous_scores) / SCORES_TABLE).is_file():
                old = _scores_rows(scores_dir.parent / str(previous_scores))
                gone = old.select("id").join(t.scores.select("id"), on="id", how="anti")
                key = [pl.col("id"), pl.col("risk"), pl.col("level"), pl.col("ring_id").fill_null(""),
                       pl.col("reasons").list.join(_ARRAY_DELIMITER)]
                t.scores = t.scores.with_columns(_k=pl.concat_str(key, separator="\x1e", ignore_nulls=False)).join(
                    old.select(_k=pl.concat_str(key, separator="\x1e", ignore_nulls=False)), on="_k", how="anti",
                ).drop("_k")
                report.rows["scores"] = t.scores.height
        if graph_done:
            for name in ("accounts", "accounts_endpoints", *(x.lower() for x in ("Device", "IP")),
                         *(rel.lower() for rel in _exported_types(t))):
                if report.rows.pop(name, None) is not None:
                    report.unchanged.append(name)
        _cypher_export(driver, t, report, database, console, batch_size, workers, fresh=method == "create",
                       graph_done=graph_done, scores_done=scores_done, previous_types=set(meta.get("relation_types") or []),
                       gone=gone)
        if marker is not None:  # complete now: a marker of a load stopped before its swap must not make a later run import over it
            marker.unlink(missing_ok=True)
    report.nodes, report.relationships = graph_counts(driver, database)
    report.seconds = time.monotonic() - t0
    report.rows_per_s = report.total_rows / report.seconds if report.seconds > 0 else 0.0
    return report


def _cypher_export(driver: neo4j.Driver, t: _Tables, report: ExportReport, database: str | None,
                   console: Console | None, batch_size: int, workers: int, *, fresh: bool,
                   graph_done: bool = False, scores_done: bool = False, previous_types: set[str] | None = None,
                   gone: pl.DataFrame | None = None) -> None:
    """MERGE (or, into an empty database, CREATE) batches over Bolt, then retire what is gone.

    ``graph_done`` / ``scores_done``: that version is already in Neo4j (an earlier complete
    export), so its batches and its retirement are skipped. ``gone``: the accounts whose scores
    to remove (those the diffed previous set scored, ``id``); ``None`` without a diff, when
    every scored account is stamped with the new version and the others' scores are removed.
    """
    ensure_schema(driver, database)
    progress = _new_progress(console)
    writer = _Writer(driver, database, progress, workers)
    writing_scores = t.scores is not None and t.rings is not None and t.members is not None and not scores_done
    if not fresh:
        _mark_writing(writer, graph=not graph_done, scores=writing_scores)
    previous_types = previous_types or set()
    node_verb = "CREATE" if fresh else "MERGE"
    snapshot_version, scores_version = t.snapshot_version, t.scores_version

    with progress or nullcontext():
        if not graph_done:
            _cypher_graph(writer, t, node_verb, batch_size, fresh=fresh)
        if writing_scores:
            assert t.scores is not None and t.rings is not None and t.members is not None
            reasons = "CASE WHEN size(r.reasons) = 0 THEN null ELSE r.reasons END"
            changed = ("a.risk IS NULL OR a.risk <> r.risk OR a.level IS NULL OR a.level <> r.level "
                       "OR coalesce(a.ring_id, '') <> coalesce(r.ring_id, '') OR coalesce(a.reasons, []) <> r.reasons")
            if fresh:
                scores_query = (
                    "UNWIND $rows AS r MERGE (a:Account {id: r.id}) "
                    f"SET a.risk = r.risk, a.level = r.level, a.ring_id = r.ring_id, a.reasons = {reasons}, "
                    "a.scores_version = $version, a.model_version = $model RETURN count(a) AS n")
            elif gone is not None:  # the rows differ from the set Neo4j holds: write where Neo4j's differ too
                scores_query = (
                    f"UNWIND $rows AS r MERGE (a:Account {{id: r.id}}) WITH a, r WHERE {changed} "
                    f"SET a.risk = r.risk, a.level = r.level, a.ring_id = r.ring_id, a.reasons = {reasons}, "
                    "a.scores_version = $version, a.model_version = $model "
                    "RETURN count(a) AS n")
            else:  # every row: stamp the version on all (the others' scores are removed below), count the changed
                scores_query = (
                    f"UNWIND $rows AS r MERGE (a:Account {{id: r.id}}) WITH a, r, {changed} AS changed "
                    "SET a.scores_version = $version, a.model_version = $model "
                    f"WITH a, r, changed WHERE changed "
                    f"SET a.risk = r.risk, a.level = r.level, a.ring_id = r.ring_id, a.reasons = {reasons} "
                    "RETURN count(a) AS n")
            report.changed_scores = writer.batches("scores", scores_query, t.scores, batch_size,
                                                   {"version": scores_version, "model": t.model_version})
            writer.batches(
                "rings", f"UNWIND $rows AS r {node_verb} (g:Ring {{id: r.id}}) "
                "SET g.size = r.size, g.edges = r.edges, g.density = r.density, g.synchrony = r.synchrony, g.mean_risk = r.mean_risk, "
                "g.ring_score = r.ring_score, g.related = r.related, g.related_links = r.related_links, g.scores_version = $version",
                t.rings, batch_size, {"version": scores_version},
            )
            rel_fresh = fresh or _rel_count(writer, "MEMBER_OF") == 0
            writer.batches("member_of", _link_query("MEMBER_OF", "Account", "Ring", rel_fresh, "scores_version"),
                           t.members, batch_size, {"version": scores_version})

    exported_types = _exported_types(t)
    # Retire what the new versions no longer have (only after everything above succeeded).
    if not fresh and not graph_done:
        for rel_type in exported_types:
            if n := _retire(writer, rel_type, "snapshot_version", snapshot_version):
                report.retired[rel_type] = n
        for rel_type in sorted(previous_types - set(exported_types) - {"MEMBER_OF"}):
            if _REL_TYPE.match(rel_type) and (n := _drop_type(writer, rel_type)):
                report.retired[rel_type] = n
    if not fresh and not scores_done and scores_version is not None:
        if n := _retire(writer, "MEMBER_OF", "scores_version", scores_version):
            report.retired["MEMBER_OF"] = n
        rings_gone = writer.run("MATCH (g:Ring) WHERE g.scores_version <> $version DETACH DELETE g RETURN count(*) AS n",
                                {"version": scores_version})
        if rings_gone and rings_gone[0]["n"]:
            report.retired["Ring"] = int(rings_gone[0]["n"])
        unscored = _SCORE_PROPERTIES
        if gone is not None:
            n = writer.batches("unscored", f"UNWIND $rows AS r MATCH (a:Account {{id: r.id}}) WHERE a.risk IS NOT NULL "
                               f"REMOVE {unscored} RETURN count(a) AS n", gone, batch_size)
        else:
            rows = writer.autocommit(
                "MATCH (a:Account) WHERE a.scores_version IS NOT NULL AND a.scores_version <> $version "
                f"CALL (a) {{ REMOVE {unscored} }} IN TRANSACTIONS OF 10000 ROWS RETURN count(a) AS n",
                {"version": scores_version})
            n = int(rows[0]["n"]) if rows else 0
        if n:
            report.retired["scores"] = n
    _write_meta(writer, _meta(t, exported_types))
    report.seconds_by_step = dict(writer.seconds)


def _cypher_graph(writer: _Writer, t: _Tables, node_verb: str, batch_size: int, *, fresh: bool) -> None:
    """The snapshot's nodes and relationships (relationships sorted by source for locality)."""
    snapshot_version = t.snapshot_version
    # Accounts: every id of the snapshot, plus endpoints only the relation tables name.
    writer.batches(
        "accounts", f"UNWIND $rows AS r {node_verb} (a:Account {{id: r.id}}) "
        f"SET a += coalesce(r.f, {{}}), a.first_ms = r.first_ms, a.last_ms = r.last_ms, a.snapshot_version = $version",
        t.accounts, batch_size, {"version": snapshot_version},
    )
    if t.extra.height:
        writer.batches("accounts (endpoints)", f"UNWIND $rows AS r {node_verb} (a:Account {{id: r.id}})", t.extra, batch_size)

    for rel_type, target_label, things, links in t.infra:
        writer.batches(f"{target_label.lower()}s", f"UNWIND $rows AS r {node_verb} (:{target_label} {{id: r.id}})",
                       things, batch_size)
        rel_fresh = fresh or _rel_count(writer, rel_type) == 0
        writer.batches(rel_type.lower(), _link_query(rel_type, "Account", target_label, rel_fresh, "snapshot_version"),
                       links.sort("src"), batch_size, {"version": snapshot_version})

    for rel_type, edges in t.edges:
        rel_fresh = fresh or _rel_count(writer, rel_type) == 0
        writer.batches(rel_type.lower(), _link_query(rel_type, "Account", "Account", rel_fresh, "snapshot_version"),
                       edges.sort("src"), batch_size, {"version": snapshot_version})


def resolve_versions(
    snapshots: VersionedDir, scores: VersionedDir, snapshot: str | None = None, score_set: str | None = None,
) -> tuple[Path, Path | None]:
    """The directories to export: the named versions, else the current ones.

    Without ``snapshot``, the score set's own ``snapshot_version`` is used, so scores and
    graph match; without any published scores only the graph is exported.

    Raises:
        NotFoundError: A named version does not exist, the score set's own snapshot is no
            longer published (never another graph in its place), or no snapshot was published.
    """
    scores_dir: Path | None
    if score_set is not None:
        scores_dir = scores.path(score_set)
    else:
        scores_dir = scores.path() if scores.current() else None
    if snapshot is None and scores_dir is not None:
        wanted = json.loads((scores_dir / "manifest.json").read_text()).get("snapshot_version")
        if wanted:
            try:
                return snapshots.path(wanted), scores_dir
            except NotFoundError:
                raise NotFoundError(
                    f"scores {scores_dir.name} were made on snapshot {wanted}, which is no longer published (published: "
                    f"{', '.join(snapshots.versions()) or 'none'}); pass --snapshot to export them onto another graph, "
                    "or score the current snapshot first") from None
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
