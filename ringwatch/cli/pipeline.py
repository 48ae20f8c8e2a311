"""``ringwatch pipeline run`` and ``ringwatch demo``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``pipeline`` and ``demo`` to ``app``."""
