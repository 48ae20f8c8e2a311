"""``ringwatch pipeline run`` and ``ringwatch demo``."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import polars as pl
import typer
from rich.panel import Panel
from rich.table import Table

from ringwatch.cli import stages
from ringwatch.cli.common import console, emit_json, settings
from ringwatch.errors import RingwatchError
from ringwatch.settings import Settings
from ringwatch.versions import Home

pipeline_app = typer.Typer(help="Run the batch pipeline: build → train → score → publish → export.", no_args_is_help=True)

SHARED_DEVICE_CYPHER = """\
MATCH (a:Account {id: $account})-[:USES_DEVICE]->(d:Device)<-[:USES_DEVICE]-(b:Account)
WHERE b <> a
RETURN b.id AS account, b.level AS level, round(b.risk, 3) AS risk, b.ring_id AS ring, collect(d.id) AS shared_devices
ORDER BY risk DESC LIMIT 10"""


def _export_to_neo4j(s: Settings, home: Home) -> dict[str, Any]:
    from services import neo4j_export, neo4j_server

    driver = neo4j_server.connect(s)
    try:
        report = neo4j_export.export(driver, home.snapshots.path(), home.scores.path(), console=console)
    finally:
        driver.close()
    console.print(f"exported to Neo4j: {sum(report.rows.values()):,} rows at {report.rows_per_s:,.0f} rows/s")
    return asdict(report)


@pipeline_app.command("run")
def run_cmd(
    events: Annotated[list[str], typer.Argument(help="Event files, folders, globs or object-store URIs.")],
    mapping: Annotated[Optional[Path], typer.Option(help="TOML column mapping.")] = None,
    labels: Annotated[Optional[list[Path]], typer.Option(help="Label files (default: HOME/labels).")] = None,
    retrain: Annotated[bool, typer.Option("--retrain/--reuse-model", help="Train a new model, or score with the current one.")] = True,
    export: Annotated[bool, typer.Option("--export/--no-export", help="Export to Neo4j when it is running or NEO4J_URI is set.")] = True,
    as_json: stages.JsonFlag = False,
) -> None:
    """Build a snapshot, (re)train, score and publish; export to Neo4j if reachable.

    Each step publishes atomically: a failure leaves the previous snapshot, model and scores
    current, and the running gRPC service keeps serving them.
    """
    s = settings()
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
            console.print(f"[yellow]Neo4j export skipped:[/] {exc}")
    if as_json:
        emit_json(result)


def demo_cmd(
    accounts: Annotated[int, typer.Option(help="Organic accounts to generate.")] = 10_000,
    days: Annotated[int, typer.Option(help="Days of events.")] = 7,
    port: Annotated[int, typer.Option(help="gRPC port (0 picks a free one).")] = 0,
    neo4j: Annotated[bool, typer.Option("--neo4j/--no-neo4j", help="Start Neo4j and export into it.")] = True,
) -> None:
    """The whole system on generated data: synth → build → train → score → serve → Neo4j → lookups."""
    from services import grpc_server, neo4j_server
    from services.risk_client import RiskClient

    s = settings()
    home = Home(s.ensure_home())
    synth_dir = home.root / "demo"
    console.rule("[bold]1/6 synth[/]: an event log with planted campaigns")
    stages.synth_cmd(out=synth_dir, accounts=accounts, days=days, campaigns=12, label_fraction=0.5, seed=s.seed, as_json=False)
    home.labels.mkdir(parents=True, exist_ok=True)
    shutil.copy(synth_dir / "labels.parquet", home.labels / "demo-synth.parquet")
    console.print(f"known labels (partial, noisy, delayed) copied to {home.labels}/demo-synth.parquet")

    console.rule("[bold]2/6 build[/]: Ray job → graph snapshot")
    stages.build_cmd([str(synth_dir / "events")], mapping=None, since=None, until=None, max_bad_fraction=None, as_json=False)
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
    riskiest = scores["account_id"][0]
    calm = scores.filter(pl.col("level") == "LOW")["account_id"][0]
    with RiskClient(target, token=s.grpc_token) as client:
        table = Table("account", "risk", "level", "ring", "model", "snapshot", title="GetRiskScore over gRPC")
        for acc in (riskiest, scores["account_id"][1], calm):
            r = client.get(acc)
            table.add_row(r.account_id, f"{r.risk:.3f}", r.level, r.ring_id or "-", r.score_set.model_version, r.score_set.snapshot_version)
        console.print(table)
        batch = client.batch_get(scores["account_id"].head(1000).to_list())
        console.print(f"BatchGetRiskScores: {len(batch)} accounts in one call")
        try:
            client.get("no-such-account")
        except RingwatchError as exc:
            console.print(f"unknown account → {exc}")
    if neo4j:
        from services import neo4j_server as ns

        driver = ns.connect(s)
        try:
            records, _, _ = driver.execute_query(SHARED_DEVICE_CYPHER, account=riskiest)
        finally:
            driver.close()
        q = Table("account", "level", "risk", "ring", "shared devices", title=f"Accounts sharing a device with {riskiest}")
        for rec in records:
            q.add_row(str(rec["account"]), str(rec["level"]), str(rec["risk"]), str(rec["ring"] or "-"), ", ".join(rec["shared_devices"]))
        console.print(Panel(SHARED_DEVICE_CYPHER.replace("$account", repr(riskiest)), title="Cypher"))
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
