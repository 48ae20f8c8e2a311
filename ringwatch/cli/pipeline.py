"""``ringwatch pipeline run`` and ``ringwatch demo``."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import polars as pl
import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ringwatch.cli import stages
from ringwatch.cli.common import batch_settings, console, emit_json
from ringwatch.errors import ConfigError, RingwatchError
from ringwatch.settings import Settings
from ringwatch.versions import Home, reading

pipeline_app = typer.Typer(help="Run the batch pipeline: build → train → score → publish → export.", no_args_is_help=True)

COORDINATION_CYPHER = """\
MATCH (a:Account {id: $account})-[r:COACTION|SHARED_DEVICE|SAME_TEXT]-(b:Account)
RETURN b.id AS account, b.level AS level, round(b.risk, 3) AS risk, b.ring_id AS ring,
       collect(type(r) + ' x' + toString(r.count)) AS links
ORDER BY risk DESC, account LIMIT 10"""


def _export_to_neo4j(s: Settings, home: Home) -> dict[str, Any]:
    from services import neo4j_export, neo4j_server

    driver = neo4j_server.connect(s)
    try:
        # the score set's own snapshot, not the current one: a build published since must not pair with these scores
        snapshot_dir, scores_dir = neo4j_export.resolve_versions(home.snapshots, home.scores)
        with reading(snapshot_dir, scores_dir):  # no prune while they are read
            report = neo4j_export.export(driver, snapshot_dir, scores_dir, console=console)
    finally:
        driver.close()
    console.print(f"exported to Neo4j: {sum(report.rows.values()):,} rows at {report.rows_per_s:,.0f} rows/s")
    return asdict(report)


def run_pipeline(events: list[str] | None, mapping: Path | None, labels: list[Path] | None, retrain: bool, export: bool) -> dict[str, Any]:
    """Build → (re)train → score → publish → export; each step publishes atomically.

    Returns:
        The versions now current and the Neo4j export report (or why it was skipped).
    """
    s = batch_settings()
    home = Home(s.ensure_home())
    stages.build_cmd(events, mapping=mapping, since=None, until=None, max_bad_fraction=None, as_json=False)
    if retrain or home.models.current() is None:
        stages.train_cmd(labels=labels, snapshot=None, label_cutoff=None, epochs=150, as_json=False)
    stages.score_cmd(model=None, snapshot=None, as_json=False)
    result: dict[str, Any] = {"snapshot": home.snapshots.current(), "model": home.models.current(), "scores": home.scores.current()}
    if export:
        try:
            result["neo4j"] = _export_to_neo4j(s, home)
        except RingwatchError as exc:
            result["neo4j"] = f"skipped: {exc}"
            console.print(f"[yellow]Neo4j export skipped:[/] {escape(str(exc))}")
    return result


EventsArg = Annotated[Optional[list[str]], typer.Argument(
    help="Event files, folders, globs or object-store URIs (default: HOME/events, where logs land).")]
MappingOpt = Annotated[Optional[Path], typer.Option(help="TOML column mapping.")]
LabelsOpt = Annotated[Optional[list[Path]], typer.Option(help="Label files (default: HOME/labels).")]
RetrainOpt = Annotated[bool, typer.Option("--retrain/--reuse-model", help="Train a new model, or score with the current one.")]
ExportOpt = Annotated[bool, typer.Option("--export/--no-export", help="Export to Neo4j when it is running or NEO4J_URI is set.")]


@pipeline_app.command("run")
def run_cmd(events: EventsArg = None, mapping: MappingOpt = None, labels: LabelsOpt = None, retrain: RetrainOpt = True,
            export: ExportOpt = True, as_json: stages.JsonFlag = False) -> None:
    """Build a snapshot, (re)train, score and publish; export to Neo4j if reachable.

    A failure leaves the previous snapshot, model and scores current, and the running gRPC
    service keeps serving them.
    """
    result = run_pipeline(events, mapping, labels, retrain, export)
    if as_json:
        emit_json(result)


MAX_EVERY_S = 365 * 86400
"""Longest schedule interval: a year (longer is a typo, and past the platform's sleep limit)."""


def parse_every(text: str) -> float:
    """``90s``, ``30m``, ``1h``, ``1d`` → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(text[:-1]) * units[text[-1]]
        if not 0 < seconds <= MAX_EVERY_S:  # also refuses nan and inf
            raise ValueError
    except (ValueError, IndexError, KeyError) as exc:
        raise ConfigError(f"--every must be a positive number with a unit s, m, h or d, at most 365d (e.g. 1h, 30m), "
                          f"got {text!r}") from exc
    return seconds


@pipeline_app.command("schedule")
def schedule_cmd(events: EventsArg = None, every: Annotated[str, typer.Option(help="Interval: 90s, 30m, 1h, 1d.")] = "1h",
                 max_runs: Annotated[int, typer.Option(min=0, help="Stop after this many runs (0: forever).")] = 0,
                 mapping: MappingOpt = None, labels: LabelsOpt = None, retrain: RetrainOpt = True,
                 export: ExportOpt = True, as_json: stages.JsonFlag = False) -> None:
    """Run the pipeline periodically. A failed run is logged and leaves the last good versions
    current; the next tick tries again. Old versions beyond RINGWATCH_KEEP_VERSIONS are pruned."""
    interval = parse_every(every)
    runs: list[dict[str, Any]] = []
    n = 0
    while max_runs == 0 or n < max_runs:
        n += 1
        tick = time.monotonic()
        console.rule(f"run {n} at {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S}Z")
        try:
            runs.append({"run": n, "ok": True, **run_pipeline(events, mapping, labels, retrain, export)})
        except Exception as exc:  # noqa: BLE001 - any failed run (a full disk too) leaves the last good versions; Ctrl-C still stops
            what = str(exc) if isinstance(exc, RingwatchError) else f"{type(exc).__name__}: {exc}"
            console.print(f"[bold red]run {n} failed:[/] {escape(what)} — the last good versions stay current")
            runs.append({"run": n, "ok": False, "error": what})
        if max_runs and n >= max_runs:
            break
        time.sleep(max(0.0, interval - (time.monotonic() - tick)))
    if as_json:
        emit_json(runs)
    if runs and not runs[-1]["ok"]:
        raise typer.Exit(1)


def cypher_panel(query: str, account: str) -> Panel:
    """The investigator query with the account filled in, as text to paste (``[r:COACTION]`` is no markup)."""
    return Panel(Text(query.replace("$account", repr(account))), title="Cypher (investigator query)")


def demo_cmd(
    accounts: Annotated[int, typer.Option(help="Organic accounts to generate.")] = 10_000,
    days: Annotated[int, typer.Option(help="Days of events.")] = 7,
    port: Annotated[int, typer.Option(help="gRPC port (0 picks a free one).")] = 0,
    neo4j: Annotated[bool, typer.Option("--neo4j/--no-neo4j", help="Start Neo4j and export into it.")] = True,
) -> None:
    """The whole system on generated data: synth → build → train → score → serve → Neo4j → lookups."""
    from services import grpc_server, neo4j_server
    from services.risk_client import RiskClient

    s = batch_settings()
    home = Home(s.ensure_home())
    synth_dir = home.root / "demo"
    console.rule("[bold]1/6 synth[/]: an event log with planted campaigns")
    stages.synth_cmd(out=synth_dir, accounts=accounts, days=days, campaigns=12, label_fraction=0.5, seed=s.seed, as_json=False)
    home.labels.mkdir(parents=True, exist_ok=True)
    shutil.copy(synth_dir / "labels.parquet", home.labels / "demo-synth.parquet")
    console.print(f"known labels (partial, noisy, delayed) copied to {home.labels}/demo-synth.parquet")

    console.rule("[bold]2/6 build[/]: Ray job → graph snapshot")
    stages.build_cmd([str(synth_dir / "events")], mapping=None, since=None, until=None, max_bad_fraction=None,
                     accounts_table=synth_dir / "accounts.parquet", as_json=False)
    console.rule("[bold]3/6 train + score[/]: PyTorch Geometric GNN")
    stages.train_cmd(labels=None, snapshot=None, label_cutoff=None, epochs=150, as_json=False)
    stages.score_cmd(model=None, snapshot=None, as_json=False)
    stages.evaluate_cmd(truth=synth_dir / "ground_truth.parquet", scores=None, exclude_labels=None, as_json=False)

    console.rule("[bold]4/6 serve[/]: gRPC risk service")
    if grpc_server.background_status(s) is not None:
        grpc_server.stop_background(s)
    grpc_port = grpc_server.start_background(s, port)
    target = f"{s.grpc_host}:{grpc_port}"
    console.print(f"risk service SERVING on {target} (pid file and log in {home.run})")

    bolt = None
    if neo4j:
        console.rule("[bold]5/6 Neo4j[/]: embedded server + export")
        server = neo4j_server.start_from_settings(s, log=lambda line: console.print(f"  {line}"))
        bolt = server.uri
        console.print(f"Neo4j at {bolt}")
        _export_to_neo4j(s, home)

    console.rule("[bold]6/6 lookups[/]: over gRPC, and one investigator query")
    scores = pl.read_parquet(home.scores.path() / "scores.parquet").sort("risk", descending=True)
    in_rings = scores.filter(pl.col("ring_id").is_not_null())
    riskiest = (in_rings if in_rings.height else scores)["account_id"][0]  # the riskiest account in a ring
    calm = scores.filter(pl.col("level") == "LOW")["account_id"][0]
    with RiskClient(target, token=s.grpc_token) as client:
        table = Table("account", "risk", "level", "ring", "model", "snapshot", title="GetRiskScore over gRPC")
        for acc in dict.fromkeys((riskiest, scores["account_id"][0], calm)):
            r = client.get(acc)
            table.add_row(escape(r.account_id), f"{r.risk:.3f}", r.level, escape(r.ring_id or "-"), r.score_set.model_version,
                          r.score_set.snapshot_version)
        console.print(table)
        said = r.score_set.warnings
        console.print(f"score set {r.score_set.score_version} as served: "
                      + (f"{len(said)} warning(s), e.g. {said[0]}" if said else "no warnings (levels trusted as calibrated)"), markup=False)
        batch = client.batch_get(scores["account_id"].head(1000).to_list())
        console.print(f"BatchGetRiskScores: {len(batch)} accounts in one call")
        try:
            client.get("no-such-account")
        except RingwatchError as exc:
            console.print(f"unknown account → {exc}", markup=False)
    if neo4j:
        from services import neo4j_server as ns

        driver = ns.connect(s)
        try:
            records, _, _ = driver.execute_query(COORDINATION_CYPHER, account=riskiest)
        finally:
            driver.close()
        q = Table("account", "level", "risk", "ring", "links", title=Text.assemble("Accounts in lockstep or sharing devices/text with ", str(riskiest)))
        for rec in records:
            q.add_row(escape(str(rec["account"])), str(rec["level"]), str(rec["risk"]), escape(str(rec["ring"] or "-")),
                      escape(", ".join(rec["links"])))
        console.print(cypher_panel(COORDINATION_CYPHER, riskiest))
        console.print(q)

    pw = home.neo4j / "password"
    console.print(Panel.fit(
        "\n".join([
            "Keep exploring:",
            f"  grpcurl -plaintext {target} list",
            f"  grpcurl -plaintext -d '{{\"account_id\": \"{riskiest}\"}}' {target} ringwatch.v1.RiskService/GetRiskScore",
            f"  .venv/bin/ringwatch investigate ring {riskiest}" if neo4j else "",
            f"  Neo4j Browser: connect to {bolt} as user neo4j, password in {pw}" if bolt else "",
            "Stop everything:",
            "  .venv/bin/ringwatch serve --stop" + ("   &&   .venv/bin/ringwatch neo4j stop" if neo4j else ""),
        ]).replace("\n\n", "\n"),
        title="ringwatch demo done",
    ))


def register(app: typer.Typer) -> None:
    """Add ``pipeline`` and ``demo`` to ``app``."""
    app.add_typer(pipeline_app, name="pipeline")
    app.command("demo")(demo_cmd)
