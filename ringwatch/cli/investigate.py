"""``ringwatch investigate ...``: investigator queries against Neo4j."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from ringwatch.cli.common import console, emit_json, settings
from ringwatch.types import MAX_QUERY_ROWS

app = typer.Typer(help="Investigator queries against Neo4j.", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print the rows as JSON on stdout.")
_SHOW = typer.Option(False, "--show-cypher", help="Print the Cypher and a :param line to paste into Neo4j Browser.")
_LEVEL_STYLE = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "green"}


def _show_cypher(text: str, params: dict[str, Any]) -> None:
    from services.investigate import browser_params

    console.print(browser_params(params), style="dim", soft_wrap=True, highlight=False, markup=False)
    console.print(Syntax(text, "cypher", word_wrap=True))


def _fmt(value: Any, column: str) -> Text:
    """A cell as text, never markup: ids and notes print as they are (a trailing backslash too)."""
    if value is None:
        return Text("-")
    if column == "level":
        return Text(str(value), style=_LEVEL_STYLE.get(str(value), "default"))
    if isinstance(value, float):
        return Text(f"{value:.3f}")
    if isinstance(value, list):
        return Text(", ".join(str(v) for v in value) if value else "-")
    return Text(str(value))


_WHOLE = ("account_id", "ring_id")
"""Columns kept on one line (up to :data:`_WHOLE_WIDTH` characters): the ids an investigator copies."""
_WHOLE_WIDTH = 40


def _table(title: str | Text, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    cells = [[_fmt(row.get(c), c) for c in columns] for row in rows]
    table = Table(title=title)
    for i, c in enumerate(columns):
        widest = max([r[i].cell_len for r in cells] + [len(c)]) if c in _WHOLE else None
        # fold, never cut with an ellipsis: a narrow terminal must not hide part of an id
        table.add_column(c, justify="right" if c in ("risk", "coactions", "members", "ring_score", "mean_risk", "density", "synchrony") else "left",
                         overflow="fold", min_width=min(widest, _WHOLE_WIDTH) if widest else None)
    for r in cells:
        table.add_row(*r)
    console.print(table, crop=False)  # a table wider than the terminal wraps there, nothing is cut off


def _related(row: dict[str, Any]) -> list[str]:
    """A ring row's related rings as ``"R7 (12)"``: the ring id and the links between the members."""
    related, links = row.get("related") or [], row.get("related_links") or []
    if len(links) != len(related):  # a score set written by hand or by another tool: name the rings, not the counts
        return [str(r) for r in related]
    return [f"{r} ({k})" for r, k in zip(related, links)]


def _driver() -> Any:
    from services.neo4j_server import connect

    return connect(settings())


@app.command("shared-infra")
def shared_infra(
    account: str = typer.Argument(..., help="Account id."),
    limit: int = typer.Option(50, "--limit", min=1, max=MAX_QUERY_ROWS, help="Most accounts to list."),
    as_json: bool = _JSON,
    show_cypher: bool = _SHOW,
) -> None:
    """Accounts sharing devices or IPs with ACCOUNT, with their lockstep (co-action) counts."""
    from services import investigate

    params = {"account_id": account, "limit": limit}
    if show_cypher:
        _show_cypher(investigate.SHARED_INFRA.text, params)
    with _driver() as driver:
        rows = investigate.shared_infra(driver, account, limit=limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print(Text.assemble(account, " shares no device or IP with another account"))
        return
    _table(Text.assemble("Accounts sharing infrastructure with ", account), rows,
           ("account_id", "risk", "level", "ring_id", "devices", "ips", "coactions", "verdict"))


_RING_FIELDS = ("ring_id", "ring_size", "ring_score", "density", "synchrony", "related", "related_links")


def _ring_document(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ring's own fields once and its members under ``members``; ``None`` when in no ring."""
    if not rows:
        return None
    return {**{k: rows[0].get(k) for k in _RING_FIELDS},
            "members": [{k: v for k, v in row.items() if k not in _RING_FIELDS} for row in rows]}


@app.command("ring")
def ring(
    account: str = typer.Argument(..., help="Account id (or a ring id)."),
    limit: int = typer.Option(500, "--limit", min=1, max=MAX_QUERY_ROWS, help="Most members to list."),
    as_json: bool = _JSON,
    show_cypher: bool = _SHOW,
) -> None:
    """The ring ACCOUNT belongs to: its members, their risk, and how tightly they are linked."""
    from services import investigate

    if show_cypher:
        _show_cypher(investigate.RING_OF.text, {"account_id": account})
        _show_cypher(investigate.RING_MEMBERS.text, investigate.ring_params("<ring_id from the query above>", limit))
    with _driver() as driver:
        rows = investigate.ring(driver, account, limit=limit)
    if as_json:
        emit_json(_ring_document(rows))
        return
    if not rows:
        console.print(Text.assemble(account, " is not in a ring"))
        return
    head = rows[0]
    stats = ", ".join(f"{name} {_fmt(head.get(key), '').plain}" for name, key in (
        ("size", "ring_size"), ("score", "ring_score"), ("density", "density"), ("synchrony", "synchrony")))
    _table(Text.assemble("Ring ", str(head["ring_id"]), f" ({stats})"), rows,
           ("account_id", "risk", "level", "coaction_peers", "infra_peers", "text_peers", "customer_peers", "one_customer_peers",
            "verdict"))
    if head.get("related"):
        console.print(Text.assemble("Related rings (links between the members): ", ", ".join(_related(head))))


@app.command("why")
def why(
    account: str = typer.Argument(..., help="Account id."),
    as_json: bool = _JSON,
    show_cypher: bool = _SHOW,
) -> None:
    """Why ACCOUNT scored as it did: its reasons next to the graph evidence around it."""
    from services import investigate

    if show_cypher:
        _show_cypher(investigate.WHY.text, {"account_id": account})
    with _driver() as driver:
        row = investigate.why(driver, account)
    if as_json:
        emit_json(row)
        return
    table = Table(title=Text.assemble("Why ", account), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in row.items():
        if key != "reasons":
            table.add_row(key, _fmt(value, key))
    console.print(table, crop=False)  # a table wider than the terminal wraps there, nothing is cut off
    for reason in row.get("reasons") or []:
        console.print(Text.assemble("  • ", str(reason)))


@app.command("top-rings")
def top_rings(
    limit: int = typer.Option(10, "--limit", min=1, max=MAX_QUERY_ROWS, help="How many rings."),
    as_json: bool = _JSON,
    show_cypher: bool = _SHOW,
) -> None:
    """The highest-scoring rings with their riskiest members."""
    from services import investigate

    if show_cypher:
        _show_cypher(investigate.TOP_RINGS.text, {"limit": limit})
    with _driver() as driver:
        rows = investigate.top_rings(driver, limit=limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("no rings in Neo4j; export a score set with rings first")
        return
    rows = [{**row, "related": _related(row)} for row in rows]
    _table("Top rings", rows, ("ring_id", "ring_score", "members", "mean_risk", "density", "synchrony", "top_members", "related"))


@app.command("path")
def path(
    source: str = typer.Argument(..., help="First account id."),
    target: str = typer.Argument(..., help="Second account id."),
    max_hops: int = typer.Option(4, "--max-hops", help="Longest path to search (1-8)."),
    as_json: bool = _JSON,
    show_cypher: bool = _SHOW,
) -> None:
    """The shortest chain of interactions or shared devices/IPs linking SOURCE and TARGET."""
    from services import investigate

    query = investigate.path_query(max_hops)
    if show_cypher:
        _show_cypher(query.text, {"source": source, "target": target})
    with _driver() as driver:
        found = investigate.path(driver, source, target, max_hops=max_hops)
    if as_json:
        emit_json(found)
        return
    if found is None:
        console.print(Text.assemble(f"no path of at most {max_hops} hops between ", source, " and ", target))
        return
    parts: list[Text] = []
    for i, node in enumerate(found["nodes"]):
        risk = f" ({node['risk']:.2f})" if isinstance(node.get("risk"), float) else ""
        parts.append(Text.assemble((str(node["kind"]), "bold"), " ", str(node["id"]), risk))
        if i < len(found["relationships"]):
            parts.append(Text(f"-[{found['relationships'][i]['type']}]-", style="cyan"))
    console.print(Text(f"{found['hops']} hops: ").append_text(Text(" ").join(parts)))
