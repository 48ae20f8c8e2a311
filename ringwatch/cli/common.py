"""What every CLI module shares: settings, consoles, JSON output."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import Any

from rich.console import Console

from ringwatch.settings import Settings

console = Console(stderr=True)
"""Human-facing output (progress, tables, messages) goes to stderr so stdout stays parseable."""


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()


def emit_json(obj: Any) -> None:
    """Print a machine-readable result on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
