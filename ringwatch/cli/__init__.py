"""The ``ringwatch`` command line: one entry point fronting every stage.

Each verb group lives in its own module; this one assembles them and turns
:class:`~ringwatch.errors.RingwatchError` into a one-line message and a non-zero exit.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from ringwatch.cli import investigate, neo4j, pipeline, serve, stages
from ringwatch.cli.common import console
from ringwatch.errors import RingwatchError

app = typer.Typer(
    name="ringwatch",
    help="Find coordinated abusive accounts: build graphs, score them, serve the scores, investigate rings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stages.register(app)
serve.register(app)
pipeline.register(app)
app.add_typer(neo4j.app, name="neo4j")
app.add_typer(investigate.app, name="investigate")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except RingwatchError as exc:
        console.print("[bold red]error:[/] " + escape(str(exc)), soft_wrap=True)  # input like "[/]" is text, not markup
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        sys.exit(130)
