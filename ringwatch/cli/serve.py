"""``ringwatch serve``: the gRPC risk service."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``serve`` verb to ``app``."""
