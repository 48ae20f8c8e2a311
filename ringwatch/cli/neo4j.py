"""``ringwatch neo4j start|stop|status|export``."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the embedded Neo4j and export graphs and scores into it.", no_args_is_help=True)
