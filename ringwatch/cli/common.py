"""What every CLI module shares: settings, consoles, JSON output."""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from rich.console import Console

from ringwatch.errors import ConfigError
from ringwatch.json_text import dumps_strict
from ringwatch.memory import retain_freed_memory, use_small_pages
from ringwatch.settings import Settings

console = Console(stderr=True)
"""Human-facing output (progress, tables, messages) goes to stderr so stdout stays parseable."""


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read once from the environment.

    Raises:
        ConfigError: A ``RINGWATCH_*`` variable holds a value its field does not take.
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{_variable(err['loc'])}={err.get('input')!r}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"bad setting in the environment: {problems}") from None


def batch_settings() -> Settings:
    """:func:`settings` for a command that trains or scores: the process also keeps the memory it
    frees for reuse where ``retain_freed_memory`` says so, and NumPy's arrays get small pages
    unless ``huge_pages`` says otherwise (see :mod:`ringwatch.memory`)."""
    s = settings()
    if s.retain_freed_memory:
        retain_freed_memory()
    if not s.huge_pages:
        use_small_pages()
    return s


def _variable(loc: tuple[Any, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    return field if field.isupper() else f"RINGWATCH_{field.upper()}"


def emit_json(obj: Any) -> None:
    """Print a machine-readable result on stdout (valid JSON: NaN and infinities are ``null``)."""
    sys.stdout.write(dumps_strict(obj, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()
