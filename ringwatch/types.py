"""Type aliases and the storage contracts shared by every package.

The column lists here are the contracts of DESIGN.md (event schema, snapshot and score
tables); producers and consumers import them instead of repeating strings.
"""

from __future__ import annotations

from typing import Final

AccountId = str
"""Accounts are identified by strings everywhere (integer ids from logs are cast)."""
MAX_ID_CHARS: Final = 128
"""Longest valid account id, in characters."""


def is_valid_id(account_id: object) -> bool:
    """Whether ``account_id`` is a well-formed account id: the one rule the build (which
    quarantines rows naming another as ``bad_account_id``) and the service (INVALID_ARGUMENT)
    both apply, so every scored id can be asked for by every method.

    A valid id is a ``str`` of 1 to :data:`MAX_ID_CHARS` characters, all printable
    (``str.isprintable``: no control, format, separator-other or unassigned characters; plain
    spaces are allowed).

    Args:
        account_id: The candidate id.

    Returns:
        True when the id is well formed (it may still be unknown).
    """
    return isinstance(account_id, str) and 0 < len(account_id) <= MAX_ID_CHARS and account_id.isprintable()

# --- events (input) -------------------------------------------------------------------
EVENT_COLUMNS: Final = (
    "ts", "actor_id", "event_type", "target_account_id", "target_content_id",
    "device_id", "ip", "text_hash", "weight", "event_id",
)
REQUIRED_EVENT_COLUMNS: Final = ("ts", "actor_id", "event_type")
LABEL_COLUMNS: Final = ("account_id", "label", "source", "ts")

# --- snapshot (graphs → gnn, services) ------------------------------------------------
SNAPSHOT_ACCOUNTS: Final = "accounts.parquet"
"""``account_id`` (str), ``first_ts``/``last_ts`` (datetime UTC) and float feature columns."""
SNAPSHOT_RELATIONS_DIR: Final = "relations"
"""``relations/<name>.parquet``: ``src``, ``dst`` (str), ``count`` (i64), ``first_ts``, ``last_ts``,
and the :data:`NODE_CODES` of both ends."""
NODE_CODES: Final = ("src_i", "dst_i")
"""Relation columns (i64) written next to ``src``/``dst``: their row positions in the snapshot's
accounts table (sorted by ``account_id``), so readers index edges without joining strings;
null where an end is not an account. Snapshots written before these columns lack them."""
SNAPSHOT_ACCOUNT_DEVICE: Final = "account_device.parquet"
"""``account_id``, ``device_id``, ``count``, ``first_ts``, ``last_ts``."""
SNAPSHOT_ACCOUNT_IP: Final = "account_ip.parquet"
"""``account_id``, ``ip``, ``count``, ``first_ts``, ``last_ts``."""
UNDIRECTED_RELATIONS: Final = frozenset({"shared_device", "shared_ip", "coaction", "same_text"})
"""Relations stored once per pair with ``src < dst``; all others are directed actor → target."""
ANSWERS_RELATION: Final = "answers"
"""Directed answerer → answered: ``src``'s action on a target came next after ``dst``'s, within the
co-action window (a revert on an edit log, a pile-on elsewhere). Read by the hybrid's ``answerers``
block only, never passed as messages, ring links or neighbour features: a patroller's edges run to
the vandals it reverts, so the relation is heterophilous by nature."""
SNAPSHOT_FORMAT: Final = 2
"""The event-log build's snapshot layout, recorded as ``format`` in its manifest: 2 derives
:data:`ANSWERS_RELATION`. A snapshot it wrote before (no ``format``) may hold an event type named
``answers`` under that name, which is then read as that event type's edges."""
DERIVED_RELATIONS: Final = frozenset(UNDIRECTED_RELATIONS | {ANSWERS_RELATION})
"""Relations the build derives; an event type of the same name is stored as ``<name>_event``."""
COORDINATION_RELATIONS: Final = ("coaction", "shared_device", "same_text")
"""Relations that are evidence of coordination between two accounts (lockstep, one handset, one
scripted text); shared IPs are not (carrier NAT, campus Wi-Fi, residential proxies)."""

# --- scores (gnn → services) ----------------------------------------------------------
SCORES_TABLE: Final = "scores.parquet"
"""Sorted by ``account_id``: ``risk`` (f32, calibrated probability), ``level`` (str),
``ring_id`` (str or null), ``reasons`` (str, JSON list of short human-readable reasons)."""
RISK_LEVELS: Final = ("LOW", "MEDIUM", "HIGH", "CRITICAL")

MAX_QUERY_ROWS: Final = 1_000_000
"""Most rows one investigator query lists (``--limit``; Neo4j takes a 64-bit LIMIT, and a table
past this is no read)."""
