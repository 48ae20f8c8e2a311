"""``ringwatch neo4j start|stop|status|export``."""

from __future__ import annotations

from dataclasses import replace

import typer
from rich.table import Table

from ringwatch.cli.common import console, emit_json, settings
from ringwatch.errors import ServiceError
from ringwatch.versions import Home, reading

app = typer.Typer(help="Run the embedded Neo4j and export graphs and scores into it.", no_args_is_help=True)


def _say(line: str) -> None:
    console.print(f"[dim]{line}[/]")


def _print_server(info_dict: dict[str, object]) -> None:
    table = Table(show_header=False, box=None)
    for key in ("message", "uri", "user", "pid", "password_file", "log_file", "home"):
        value = info_dict.get(key)
        if value not in (None, ""):
            table.add_row(f"[bold]{key}[/]", str(value))
    console.print(table)


@app.command()
def start(
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Bolt port (default: RINGWATCH_NEO4J_BOLT_PORT, 7687)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Start the embedded Neo4j (fetching its jars on first use), or check NEO4J_URI is reachable."""
    from services import neo4j_server

    info = neo4j_server.start_from_settings(settings(), port=port, log=_say)
    if port is not None and info.embedded and info.port != port:  # it was running already, elsewhere
        raise ServiceError(f"the embedded Neo4j already runs on port {info.port} (pid {info.pid}); --port {port} "
                           "was not applied: stop it first (`ringwatch neo4j stop`) to move it")
    if as_json:
        emit_json(info.to_dict())
        return
    _print_server(info.to_dict())
    if info.embedded:
        console.print(
            f"Connect with Neo4j Browser or a driver to [bold]{info.uri}[/] as user [bold]neo4j[/]; "
            f"the password is in {info.password_file}."
        )


@app.command()
def stop(as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout.")) -> None:
    """Stop the embedded Neo4j cleanly (an external NEO4J_URI server is left alone)."""
    from services import neo4j_server

    cfg = settings()
    external = neo4j_server.external_server(cfg)
    if external is not None:
        info = replace(external, message=f"NEO4J_URI is set ({cfg.neo4j_uri}); that server is not managed by Ringwatch, nothing to stop")
    else:
        info = neo4j_server.stop(cfg.home)
    if as_json:
        emit_json(info.to_dict())
    else:
        console.print(info.message)


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout.")) -> None:
    """Say whether Neo4j runs and where (exit 3 when it is not running, or NEO4J_URI's does not answer)."""
    from services import neo4j_server

    cfg = settings()
    info = neo4j_server.external_status(cfg) or neo4j_server.status(cfg.home)
    if as_json:
        emit_json(info.to_dict())
    else:
        _print_server(info.to_dict())
    if not info.running:
        raise typer.Exit(3)


@app.command()
def export(
    snapshot: str = typer.Option(None, "--snapshot", help="Snapshot version, e.g. v3 (default: the one the scores were made from, else current)."),
    scores: str = typer.Option(None, "--scores", help="Score set version (default: current; none published exports the graph only)."),
    batch_size: int = typer.Option(20_000, "--batch-size", min=1, help="Rows per UNWIND transaction."),
    workers: int = typer.Option(2, "--workers", min=1, help="Batches in flight at once."),
    method: str = typer.Option(
        "auto", "--method",
        help="auto (fastest correct), bulk (Neo4j's importer; empty embedded database only), "
             "create (empty database), merge (incremental).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the export report as JSON on stdout."),
) -> None:
    """Export a snapshot and its scores into Neo4j (idempotent; incremental across versions)."""
    from services import neo4j_export, neo4j_server

    cfg = settings()
    home = Home(cfg.home)
    snapshot_dir, scores_dir = neo4j_export.resolve_versions(home.snapshots, home.scores, snapshot, scores)
    with reading(snapshot_dir, scores_dir), neo4j_server.connect(cfg) as driver:  # no prune while they are read
        report = neo4j_export.export(driver, snapshot_dir, scores_dir, batch_size=batch_size, workers=workers,
                                     console=None if as_json else console, method=method,
                                     server_home=None if cfg.neo4j_uri else cfg.home)
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(
        f"exported snapshot [bold]{report.snapshot_version}[/]"
        + (f" + scores [bold]{report.scores_version}[/] (model {report.model_version})" if report.scores_version else "")
        + f": {report.total_rows:,} rows in {report.seconds:.1f}s = [bold]{report.rows_per_s:,.0f} rows/s[/] "
        f"({report.method}); "
        f"{report.changed_scores:,} scores changed"
    )
    table = Table(title="Neo4j now holds")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("count", justify="right")
    for label, n in report.nodes.items():
        table.add_row("node", label, f"{n:,}")
    for rel, n in report.relationships.items():
        table.add_row("relationship", rel, f"{n:,}")
    console.print(table)
    if report.retired:
        console.print("retired: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.retired.items())))
