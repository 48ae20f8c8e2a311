"""The investigator CLI's rendering (the queries themselves run on the real Neo4j in tests/services)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ringwatch.cli import investigate


def test_tables_fold_long_ids_instead_of_cutting_them(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(investigate, "console", Console(file=out, width=60))
    long_id = "acct-" + "0123456789" * 9
    investigate._table("Ring R1", [{"account_id": long_id, "risk": 0.97, "level": "CRITICAL", "verdict": None}],
                       ("account_id", "risk", "level", "verdict"))
    text = out.getvalue()
    assert "…" not in text
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.count("│") >= 2)
    assert long_id in cells  # every piece of the id is printed, folded over lines
