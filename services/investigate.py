"""Investigator queries: parameterised Cypher over the graph that :mod:`services.neo4j_export` writes.

Every query is a :class:`CypherQuery` (its text is what ``--show-cypher`` prints, ready to
paste into Neo4j Browser after the ``:param`` line) and a function that runs it with the
user's input as parameters only. Functions return plain dicts, the CLI renders them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import neo4j
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired

from graphs.relations import NON_COACTION_TYPES
from ringwatch.errors import ConfigError, NotFoundError, ServiceError
from ringwatch.types import ANSWERS_RELATION, MAX_QUERY_ROWS, UNDIRECTED_RELATIONS

MAX_PATH_HOPS = 8
"""Longest path ``path`` searches; longer ones say little to an investigator and cost a lot."""


@dataclass(frozen=True)
class CypherQuery:
    """A named, parameterised Cypher query.

    Attributes:
        name: Short name (the CLI verb).
        text: The Cypher; user input only as ``$parameters``.
        description: What it answers.
    """

    name: str
    text: str
    description: str


ACCOUNT = CypherQuery(
    "account",
    "MATCH (a:Account {id: $account_id}) RETURN a.id AS account_id, a.risk AS risk, a.level AS level, a.ring_id AS ring_id",
    "The account's score, or nothing when it is not in Neo4j.",
)

SHARED_DEVICE_ACCOUNTS = CypherQuery(
    "shared-device",
    """MATCH (a:Account {id: $account_id})-[:USES_DEVICE]->(d:Device)<-[:USES_DEVICE]-(b:Account)
WHERE b <> a
WITH b, collect(DISTINCT d.id) AS devices
RETURN b.id AS account_id, b.risk AS risk, b.level AS level, b.ring_id AS ring_id, b.verdict AS verdict, devices
ORDER BY coalesce(b.risk, -1.0) DESC, account_id
LIMIT $limit""",
    "Accounts that used a device the account used, riskiest first.",
)

SHARED_INFRA = CypherQuery(
    "shared-infra",
    """MATCH (a:Account {id: $account_id})-[:USES_DEVICE|USES_IP]->(x)<-[:USES_DEVICE|USES_IP]-(b:Account)
WHERE b <> a
WITH a, b, collect(DISTINCT CASE WHEN x:Device THEN x.id END) AS devices,
     collect(DISTINCT CASE WHEN x:IP THEN x.id END) AS ips
OPTIONAL MATCH (a)-[k:COACTION]-(b)
RETURN b.id AS account_id, b.risk AS risk, b.level AS level, b.ring_id AS ring_id, b.verdict AS verdict,
       devices, ips, coalesce(k.count, 0) AS coactions
ORDER BY size(devices) + size(ips) DESC, coalesce(b.risk, -1.0) DESC, account_id
LIMIT $limit""",
    "Accounts sharing devices or IPs with the account, with their lockstep (co-action) count.",
)

RING_OF = CypherQuery(
    "ring-of",
    """OPTIONAL MATCH (:Account {id: $account_id})-[:MEMBER_OF]->(g1:Ring)
OPTIONAL MATCH (g2:Ring {id: $account_id})
RETURN coalesce(g1.id, g2.id) AS ring_id""",
    "The ring an account belongs to (or the ring with that id).",
)

NOT_ACTIONS = tuple(sorted(r.upper() for r in UNDIRECTED_RELATIONS | set(NON_COACTION_TYPES) | {ANSWERS_RELATION}))
"""Account → account relationship types that are not an action on a target (links, unfollows,
own posts, sessions, answers): the same rule as :class:`gnn.rings.RingEdges`, which never sees the
answers relation (:data:`gnn.data.SIDE_RELATIONS`)."""
MIN_SHARED_CUSTOMERS = 2
"""Targets two members must share to count as customer peers (as :func:`gnn.rings.find_rings`)."""
MAX_CUSTOMER_AUDIENCE = 1000
"""Targets with more incoming relationships are not expanded by the ring query (a star's
audience would make it slow, and a star is nobody's customer). Every type counts, answers and
lockstep links too: Neo4j answers an untyped degree from its count store without expanding the
star, which a filter on types would have to do."""

RING_MEMBERS = CypherQuery(
    "ring",
    """MATCH (g:Ring {id: $ring_id})<-[:MEMBER_OF]-(m:Account)
OPTIONAL MATCH (m)-[k:COACTION|SHARED_DEVICE|SHARED_IP|SAME_TEXT]-(o:Account)-[:MEMBER_OF]->(g)
WITH g, m, count(DISTINCT CASE WHEN type(k) = 'COACTION' THEN o END) AS coaction_peers,
     count(DISTINCT CASE WHEN type(k) IN ['SHARED_DEVICE', 'SHARED_IP'] THEN o END) AS infra_peers,
     count(DISTINCT CASE WHEN type(k) = 'SAME_TEXT' THEN o END) AS text_peers
CALL (g, m) {
  OPTIONAL MATCH (m)-[r]->(t:Account)<-[r2]-(c:Account)-[:MEMBER_OF]->(g)
  WHERE c <> m AND NOT type(r) IN $not_actions AND NOT type(r2) IN $not_actions
    AND COUNT { (t)<--() } <= $max_audience
  WITH c, count(DISTINCT t) AS shared
  RETURN count(CASE WHEN shared >= $min_shared THEN c END) AS customer_peers,
         count(CASE WHEN shared < $min_shared THEN c END) AS one_customer_peers
}
RETURN g.id AS ring_id, g.size AS ring_size, g.ring_score AS ring_score, g.density AS density,
       g.synchrony AS synchrony, coalesce(g.related, []) AS related, coalesce(g.related_links, []) AS related_links,
       m.id AS account_id, m.risk AS risk, m.level AS level, m.verdict AS verdict,
       coaction_peers, infra_peers, text_peers, customer_peers, one_customer_peers
ORDER BY coalesce(m.risk, -1.0) DESC, account_id
LIMIT $limit""",
    "Members of a ring with how many other members each acts in lockstep / shares infrastructure / "
    "posts the same text / shares at least two customers (accounts both acted on) / shares one customer with.",
)

WHY = CypherQuery(
    "why",
    """MATCH (a:Account {id: $account_id})
CALL (a) {
  OPTIONAL MATCH (a)-[:USES_DEVICE]->(d:Device)<-[:USES_DEVICE]-(b:Account) WHERE b <> a
  RETURN count(DISTINCT d) AS shared_devices, count(DISTINCT b) AS device_peers
}
CALL (a) {
  OPTIONAL MATCH (a)-[:USES_IP]->(i:IP)<-[:USES_IP]-(c:Account) WHERE c <> a
  RETURN count(DISTINCT i) AS shared_ips, count(DISTINCT c) AS ip_peers
}
CALL (a) {
  OPTIONAL MATCH (a)-[k:COACTION]-(p:Account)
  RETURN count(p) AS coaction_partners, coalesce(sum(k.count), 0) AS coactions,
         count(CASE WHEN p.level IN ['HIGH', 'CRITICAL'] THEN 1 END) AS risky_coaction_partners
}
CALL (a) {
  OPTIONAL MATCH (a)-[:SAME_TEXT]-(t:Account)
  RETURN count(DISTINCT t) AS same_text_partners
}
CALL (a) {
  OPTIONAL MATCH (a)-[:MEMBER_OF]->(g:Ring)
  RETURN g.id AS ring, g.size AS ring_size, g.ring_score AS ring_score
}
RETURN a.id AS account_id, a.risk AS risk, a.level AS level, coalesce(a.reasons, []) AS reasons, a.verdict AS verdict,
       a.verdict_note AS verdict_note, ring, ring_size, ring_score, shared_devices, device_peers, shared_ips,
       ip_peers, coaction_partners, coactions, risky_coaction_partners, same_text_partners,
       a.scores_version AS scores_version, a.model_version AS model_version, a.snapshot_version AS snapshot_version""",
    "The account's score and reasons next to the graph evidence behind them.",
)

TOP_RINGS = CypherQuery(
    "top-rings",
    """MATCH (g:Ring)
WITH g ORDER BY coalesce(g.ring_score, g.mean_risk, 0.0) DESC, g.id LIMIT $limit
CALL (g) {
  MATCH (g)<-[:MEMBER_OF]-(m:Account)
  WITH m ORDER BY coalesce(m.risk, -1.0) DESC, m.id
  RETURN count(m) AS members, avg(m.risk) AS mean_risk, collect(m.id)[..5] AS top_members
}
RETURN g.id AS ring_id, g.ring_score AS ring_score, members, mean_risk, g.density AS density,
       g.synchrony AS synchrony, top_members, coalesce(g.related, []) AS related,
       coalesce(g.related_links, []) AS related_links""",
    "The highest-scoring rings with their riskiest members.",
)


def path_query(max_hops: int) -> CypherQuery:
    """The shortest-path query; the hop limit is an integer checked here (Cypher cannot take it as a parameter).

    Raises:
        ConfigError: ``max_hops`` is outside 1..MAX_PATH_HOPS.
    """
    if not isinstance(max_hops, int) or not 1 <= max_hops <= MAX_PATH_HOPS:
        raise ConfigError(f"--max-hops must be an integer from 1 to {MAX_PATH_HOPS}, got {max_hops!r}")
    return CypherQuery(
        "path",
        f"""MATCH (a:Account {{id: $source}}), (b:Account {{id: $target}})
MATCH p = shortestPath((a)-[*..{max_hops}]-(b))
WHERE none(n IN nodes(p) WHERE n:Ring)
RETURN [n IN nodes(p) | {{kind: labels(n)[0], id: n.id, risk: n.risk, level: n.level}}] AS nodes,
       [r IN relationships(p) | {{type: type(r), count: r.count}}] AS relationships,
       length(p) AS hops""",
        "The shortest chain of interactions or shared infrastructure linking two accounts (rings excluded).",
    )


QUERIES: dict[str, CypherQuery] = {q.name: q for q in (SHARED_DEVICE_ACCOUNTS, SHARED_INFRA, RING_MEMBERS, WHY, TOP_RINGS)}


def browser_params(params: dict[str, Any]) -> str:
    """A Neo4j Browser ``:param`` line that sets ``params`` (values as JSON literals)."""
    return ":param " + json.dumps(params, sort_keys=True, default=str)


def run_query(driver: neo4j.Driver, query: CypherQuery, params: dict[str, Any], *, database: str | None = None) -> list[dict[str, Any]]:
    """Run a read query and return its rows as dicts.

    Raises:
        ServiceError: Neo4j is unreachable or rejects the query.
    """
    try:
        records, _, _ = driver.execute_query(
            query.text, parameters_=params, database_=database, routing_=neo4j.RoutingControl.READ,
        )
    except (ServiceUnavailable, SessionExpired, OSError) as exc:
        raise ServiceError(f"cannot reach Neo4j: {exc}; is it running (`ringwatch neo4j status`)?") from exc
    except Neo4jError as exc:
        raise ServiceError(f"Neo4j rejected the {query.name} query: {exc.message or exc}") from exc
    return [dict(r) for r in records]


def _require_account(driver: neo4j.Driver, account_id: str, database: str | None, *, or_ring: bool = False) -> dict[str, Any]:
    """The account's row; NotFoundError when Neo4j lacks it (``or_ring``: the id was also no ring's)."""
    rows = run_query(driver, ACCOUNT, {"account_id": account_id}, database=database)
    if rows:
        return rows[0]
    if or_ring:
        raise NotFoundError(f"no account or ring {account_id!r} in Neo4j; check the id (ring ids come from the current "
                            "score set: `ringwatch investigate top-rings`) or run `ringwatch neo4j export`")
    raise NotFoundError(f"account {account_id!r} is not in Neo4j; check the id or run `ringwatch neo4j export`")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_QUERY_ROWS:
        raise ConfigError(f"--limit must be 1 to {MAX_QUERY_ROWS:,}, got {limit}")


def _account_rows(driver: neo4j.Driver, query: CypherQuery, account_id: str, limit: int,
                  database: str | None) -> list[dict[str, Any]]:
    """Rows of a per-account query; an empty answer for an account Neo4j lacks is NotFoundError."""
    _check_limit(limit)
    rows = run_query(driver, query, {"account_id": account_id, "limit": limit}, database=database)
    if not rows:
        _require_account(driver, account_id, database)
    return rows


def shared_device_accounts(driver: neo4j.Driver, account_id: str, *, limit: int = 50,
                           database: str | None = None) -> list[dict[str, Any]]:
    """Accounts sharing a device with ``account_id``, riskiest first.

    Returns:
        Rows ``account_id, risk, level, ring_id, verdict, devices``.

    Raises:
        NotFoundError: The account is not in Neo4j.
    """
    return _account_rows(driver, SHARED_DEVICE_ACCOUNTS, account_id, limit, database)


def shared_infra(driver: neo4j.Driver, account_id: str, *, limit: int = 50,
                 database: str | None = None) -> list[dict[str, Any]]:
    """Accounts sharing devices or IPs with ``account_id``, most shared first.

    Returns:
        Rows ``account_id, risk, level, ring_id, verdict, devices, ips, coactions``.

    Raises:
        NotFoundError: The account is not in Neo4j.
    """
    return _account_rows(driver, SHARED_INFRA, account_id, limit, database)


def ring(driver: neo4j.Driver, account_or_ring_id: str, *, limit: int = 500,
         database: str | None = None) -> list[dict[str, Any]]:
    """The members of the ring an account belongs to (or of the ring with that id).

    Returns:
        Rows ``ring_id, ring_size, ring_score, density, synchrony, related, related_links,
        account_id, risk, level, verdict, coaction_peers, infra_peers, text_peers, customer_peers,
        one_customer_peers``; empty when the account is in no ring (``text_peers``: members it posts
        the same text as). ``related`` names the rings
        whose members share links with this ring's, most first, and ``related_links`` how many
        each (:func:`gnn.rings.find_rings`; empty for a score set from before they were
        listed). ``customer_peers`` counts the members that acted on at least
        :data:`MIN_SHARED_CUSTOMERS` of the accounts this one acted on (the link of a ring
        found by shared customers, :mod:`gnn.rings`, without its risky-audience test: Neo4j
        holds scores, not the floor the rings were cut at), ``one_customer_peers`` the members
        that acted on fewer of them but at least one (the ring stage links such a pair when
        their peers are nearly the same: an account with no lockstep, infrastructure or
        two-customer peer is in its ring that way); targets with more than
        :data:`MAX_CUSTOMER_AUDIENCE` incoming relationships are popular, not customers, and
        are not expanded.

    Raises:
        NotFoundError: Neither an account nor a ring has that id.
    """
    _check_limit(limit)
    found = run_query(driver, RING_OF, {"account_id": account_or_ring_id}, database=database)
    ring_id = found[0]["ring_id"] if found else None
    if ring_id is None:
        _require_account(driver, account_or_ring_id, database, or_ring=True)
        return []
    return run_query(driver, RING_MEMBERS, ring_params(ring_id, limit), database=database)


def ring_params(ring_id: str, limit: int) -> dict[str, Any]:
    """The parameters of :data:`RING_MEMBERS` for a ring."""
    return {"ring_id": ring_id, "limit": limit, "not_actions": list(NOT_ACTIONS), "max_audience": MAX_CUSTOMER_AUDIENCE,
            "min_shared": MIN_SHARED_CUSTOMERS}


def why(driver: neo4j.Driver, account_id: str, *, database: str | None = None) -> dict[str, Any]:
    """An account's score, reasons and the graph evidence around it.

    Raises:
        NotFoundError: The account is not in Neo4j.
    """
    rows = run_query(driver, WHY, {"account_id": account_id}, database=database)
    if not rows:
        raise NotFoundError(f"account {account_id!r} is not in Neo4j; check the id or run `ringwatch neo4j export`")
    return rows[0]


def top_rings(driver: neo4j.Driver, *, limit: int = 10, database: str | None = None) -> list[dict[str, Any]]:
    """The highest-scoring rings.

    Returns:
        Rows ``ring_id, ring_score, members, mean_risk, density, synchrony, top_members, related,
        related_links`` (as in :func:`ring`).
    """
    _check_limit(limit)
    return run_query(driver, TOP_RINGS, {"limit": limit}, database=database)


def path(driver: neo4j.Driver, source: str, target: str, *, max_hops: int = 4,
         database: str | None = None) -> dict[str, Any] | None:
    """The shortest path between two accounts over interactions and shared devices/IPs.

    Returns:
        ``{"nodes": [...], "relationships": [...], "hops": n}``, or ``None`` when no path
        of at most ``max_hops`` exists.

    Raises:
        NotFoundError: Either account is not in Neo4j.
        ConfigError: ``max_hops`` is out of range.
    """
    query = path_query(max_hops)
    for account in (source, target):
        _require_account(driver, account, database)
    if source == target:
        raise ConfigError("path needs two different accounts")
    rows = run_query(driver, query, {"source": source, "target": target}, database=database)
    return rows[0] if rows else None
