"""``ringwatch investigate ...``: investigator queries against Neo4j."""

from __future__ import annotations

import typer

app = typer.Typer(help="Investigator queries against Neo4j.", no_args_is_help=True)
