"""The investigator CLI's rendering (the queries themselves run on the real Neo4j in tests/services)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

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


def test_ids_stay_on_one_line_and_no_column_is_cropped_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(investigate, "console", Console(file=out, width=80))
    columns = ("account_id", "risk", "level", "coaction_peers", "infra_peers", "customer_peers", "one_customer_peers", "verdict")
    row = {"account_id": "541123345279", "risk": 0.948, "level": "CRITICAL", "coaction_peers": 42, "infra_peers": 2,
           "customer_peers": 43, "one_customer_peers": 0, "verdict": "abusive"}
    investigate._table("Ring R1", [row], columns)
    text = out.getvalue()
    assert "541123345279" in text  # the id to copy, whole
    assert "verdict" in text and "abusive" in text  # the last column is printed, not cut at the edge


def test_an_unknown_level_and_markup_in_values_print_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(investigate, "console", Console(file=out, width=100))
    investigate._table("Ring [red]R1", [{"account_id": "a[/]", "risk": 0.5, "level": "[/]UNSCORED"}],
                       ("account_id", "risk", "level"))
    text = out.getvalue()
    assert "a[/]" in text and "[/]UNSCORED" in text


def test_related_rings_without_matching_counts_are_named_without_them() -> None:
    assert investigate._related({"related": ["R2", "R3"], "related_links": [4, 2]}) == ["R2 (4)", "R3 (2)"]
    assert investigate._related({"related": ["R2", "R3"], "related_links": [4]}) == ["R2", "R3"]
    assert investigate._related({"related": None}) == []


def test_ring_json_gives_the_ring_once_and_its_members() -> None:
    ring = {"ring_id": "R1", "ring_size": 2, "ring_score": 0.9, "density": 1.0, "synchrony": 0.5, "related": ["R2"],
            "related_links": [3]}
    rows = [{**ring, "account_id": a, "risk": r, "level": "CRITICAL", "verdict": None} for a, r in (("a1", 0.97), ("a2", 0.95))]
    doc = investigate._ring_document(rows)
    assert doc is not None and {k: doc[k] for k in ring} == ring
    assert doc["members"] == [{"account_id": "a1", "risk": 0.97, "level": "CRITICAL", "verdict": None},
                              {"account_id": "a2", "risk": 0.95, "level": "CRITICAL", "verdict": None}]
    assert investigate._ring_document([]) is None


def test_an_id_ending_in_a_backslash_prints_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(investigate, "console", Console(file=out, width=100))
    investigate._table(Text.assemble("Why ", "mule\\"), [{"account_id": "mule\\", "level": "HIGH\\"}], ("account_id", "level"))
    text = out.getvalue()
    assert "Why mule\\" in text and "mule\\\\" not in text and "HIGH\\\\" not in text


@pytest.mark.parametrize("args", [["investigate", "top-rings", "--limit", "9223372036854775808"],
                                  ["investigate", "ring", "a1", "--limit", "1000001"],
                                  ["pipeline", "schedule", "events", "--max-runs", "-1"]])
def test_out_of_range_counts_are_refused_before_any_work(args: list[str]) -> None:
    from typer.testing import CliRunner

    from ringwatch.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_the_demos_cypher_keeps_its_relationship_pattern() -> None:
    from ringwatch.cli.pipeline import COORDINATION_CYPHER, cypher_panel

    out = io.StringIO()
    Console(file=out, width=200).print(cypher_panel(COORDINATION_CYPHER, "acc_42"))
    assert "[r:COACTION|SHARED_DEVICE|SAME_TEXT]" in out.getvalue() and "'acc_42'" in out.getvalue()
