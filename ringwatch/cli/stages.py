"""Stage verbs: synth, build, train, score, evaluate, label."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the stage verbs to ``app``."""
