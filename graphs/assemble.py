"""Merge per-bucket outputs of a build into the snapshot tables.

This is the build's last task: it reads the bucket aggregates written by
:mod:`graphs.tasks`, joins the cross-bucket features (in-degree, reciprocity, infrastructure
sharing, co-action) and writes the snapshot files into a staging directory.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from graphs import relations
from graphs.validate import parse_ts
from ringwatch.errors import InputError
from ringwatch.types import (
    ANSWERS_RELATION,
    DERIVED_RELATIONS,
    NODE_CODES,
    SNAPSHOT_ACCOUNT_DEVICE,
    SNAPSHOT_ACCOUNT_IP,
    SNAPSHOT_ACCOUNTS,
    SNAPSHOT_RELATIONS_DIR,
)

_REL_NAME = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class AssembleParams:
    """Thresholds of the cross-bucket relations.

    Args:
        coaction_min_count: Pairs co-acting in fewer (target, window) cells are dropped.
        max_accounts_per_device: Devices used by more accounts produce no shared-device pairs.
        max_accounts_per_ip: IPs used by more accounts (NAT pools, campuses) produce no pairs.
        max_accounts_per_text: Texts used by more accounts (giveaway phrases) produce no pairs.
    """

    coaction_min_count: int = 2
    max_accounts_per_device: int = 100
    max_accounts_per_ip: int = 20
    max_accounts_per_text: int = 100


def relation_name(event_type: str) -> str:
    """A safe relation/file name for an event type (lower case, ``[a-z0-9_]``)."""
    name = _REL_NAME.sub("_", event_type.lower()).strip("_")
    return name or "unknown"


def _direct_name(event_type: str) -> str:
    """The relation name of an event type's direct edges: :func:`relation_name`, with ``_event``
    appended where that is a relation the build derives (:data:`DERIVED_RELATIONS`)."""
    name = relation_name(event_type)
    return f"{name}_event" if name in DERIVED_RELATIONS else name


def _read_all(paths: list[Path]) -> pl.DataFrame | None:
    present = [p for p in paths if p.is_file()]
    return pl.read_parquet(present) if present else None


def _breadth(usage: pl.DataFrame, name: str) -> pl.DataFrame:
    """Per account: the largest number of accounts seen on any of its keys."""
    return (
        usage.with_columns(pl.len().over("key").alias("_n"))
        .group_by("account_id").agg(pl.col("_n").max().cast(pl.Float32).alias(name))
    )


def _degree(edges: pl.DataFrame, name: str) -> pl.DataFrame:
    both = pl.concat([edges.select(pl.col("src").alias("account_id"), "count"),
                      edges.select(pl.col("dst").alias("account_id"), "count")])
    return both.group_by("account_id").agg(
        pl.len().cast(pl.Float32).alias(f"{name}_degree"), pl.col("count").sum().cast(pl.Float32).alias(f"{name}_weight")
    )


def _account_age(path: str, end: dt.datetime) -> tuple[pl.DataFrame, dict[str, int]]:
    """``account_age_days`` from an accounts table (``account_id``, ``created_at``), and how many
    of its rows there were and how many had a ``created_at`` that does not read as a time.

    A CSV is read as text (an id ``007`` stays ``007``); ``created_at`` may be an ISO time or
    date, or epoch seconds or milliseconds, as event times may (:func:`graphs.validate.parse_ts`).
    """
    table = pl.read_parquet(path) if path.endswith(".parquet") else pl.read_csv(path, infer_schema=False)
    missing = {"account_id", "created_at"} - set(table.columns)
    if missing:
        raise InputError(f"accounts table {path} lacks column(s) {sorted(missing)}; expected account_id, created_at")
    times = pl.DataFrame({"ts": table["created_at"]})
    created = times.select(parse_ts(times, "auto"))["ts"]
    unread = int((created.is_null() & table["created_at"].is_not_null()).sum())
    ages = pl.DataFrame({"account_id": table["account_id"].cast(pl.String), "_created": created}).drop_nulls("_created").select(
        "account_id",
        ((pl.lit(end) - pl.col("_created")).dt.total_seconds(fractional=True) / 86_400).clip(0).cast(pl.Float32).alias("account_age_days"),
    ).unique("account_id", keep="last")
    return ages, {"rows": table.height, "unreadable_created_at": unread}


def _responses(counts: pl.DataFrame | None) -> pl.DataFrame:
    """Per account: shares of its targeted actions answered by / replying to another account."""
    if counts is None or counts.is_empty():
        return pl.DataFrame(schema={"account_id": pl.String, "share_answered": pl.Float32, "share_replying": pl.Float32})
    total = counts.group_by(pl.col("actor_id").alias("account_id")).agg(pl.col("n_targeted", "n_answered", "n_replying").sum())
    return total.select("account_id", (pl.col("n_answered") / pl.col("n_targeted")).cast(pl.Float32).alias("share_answered"),
                        (pl.col("n_replying") / pl.col("n_targeted")).cast(pl.Float32).alias("share_replying"))


def add_node_codes(table: pl.DataFrame, account_ids: pl.Series) -> pl.DataFrame:
    """``table`` with :data:`ringwatch.types.NODE_CODES`: the positions of ``src``/``dst`` in ``account_ids``.

    Args:
        table: A relation table (``src``, ``dst``, ...); row order is kept.
        account_ids: The accounts table's ids, in its (sorted) row order.
    """
    index = pl.DataFrame({"_id": account_ids, "_i": pl.int_range(len(account_ids), dtype=pl.Int64, eager=True)})
    for end, code in zip(("src", "dst"), NODE_CODES):
        table = table.join(index.rename({"_id": end, "_i": code}), on=end, how="left", maintain_order="left")
    return table


def _write_relations(out: Path, tables: dict[str, pl.DataFrame], account_ids: pl.Series) -> None:
    for rel, table in tables.items():
        add_node_codes(table, account_ids).write_parquet(out / SNAPSHOT_RELATIONS_DIR / f"{rel}.parquet")


def assemble(buckets: list[str], staging: str, params: AssembleParams, end_ts: Any,
             accounts_table: str | None = None, coaction: list[str] | None = None) -> dict[str, Any]:
    """Write ``accounts``, ``relations/*`` (with :data:`NODE_CODES`), ``account_device`` and ``account_ip`` into ``staging``.

    Args:
        buckets: The build's bucket output directories (see :func:`graphs.tasks.bucket_aggregates`).
        staging: The snapshot staging directory.
        params: Cross-bucket thresholds.
        end_ts: End of the event range, for account age.
        accounts_table: Optional table of ``account_id, created_at``: the true account age
            (``account_age_days``) where the log does not go back to the signup.
        coaction: Reduced co-action parts (see :func:`graphs.tasks.coaction_reduce`), already
            summed over buckets and filtered by ``coaction_min_count``.

    Returns:
        Counts: ``accounts`` and ``relations`` (edges per relation); with an accounts table,
        ``accounts_table``: its ``rows``, ``unreadable_created_at`` and ``matched_accounts``.
    """
    out = Path(staging)
    (out / SNAPSHOT_RELATIONS_DIR).mkdir(parents=True, exist_ok=True)
    bucket_dirs = [Path(b) for b in buckets]
    feats = _read_all([d / "features.parquet" for d in bucket_dirs])
    if feats is None:
        raise ValueError("no account features were produced")
    edges = _read_all([d / "edges.parquet" for d in bucket_dirs])
    counts: dict[str, int] = {}
    tables: dict[str, pl.DataFrame] = {}  # written last, with node codes of the final accounts table

    # Direct relations, one file per event type.
    direct = edges if edges is not None else pl.DataFrame(schema={"relation": pl.String, "src": pl.String, "dst": pl.String,
                                                                   "count": pl.Int64, "first_ts": pl.Datetime("us", "UTC"),
                                                                   "last_ts": pl.Datetime("us", "UTC")})
    # Named once per distinct event type, not per edge (map_elements over 7M edges took 10 s).
    # an event type named like a derived relation keeps its edges under another name, not overwritten by them
    names = {t: _direct_name(t) for t in direct["relation"].unique().to_list()}
    direct = direct.with_columns(pl.col("relation").replace_strict(names, return_dtype=pl.String))
    if len(set(names.values())) < len(names):  # types that share a name ("Like" and "like") share one relation
        direct = direct.group_by("relation", "src", "dst").agg(
            pl.col("count").sum(), pl.col("first_ts").min(), pl.col("last_ts").max())
    for (rel,), part in direct.partition_by("relation", as_dict=True).items():
        tables[str(rel)] = part.drop("relation").sort("src", "dst")
        counts[str(rel)] = tables[str(rel)].height

    # Every account seen, acting or acted on.
    targets = direct.select(pl.col("dst").alias("account_id")).unique()
    accounts = feats.join(targets, on="account_id", how="full", coalesce=True)
    in_deg = direct.group_by(pl.col("dst").alias("account_id")).agg(
        pl.col("src").n_unique().cast(pl.Float32).alias("in_degree"), pl.col("count").sum().cast(pl.Float32).alias("in_events"))
    out_deg = direct.group_by(pl.col("src").alias("account_id")).agg(pl.col("dst").n_unique().cast(pl.Float32).alias("out_degree"))
    follows = direct.filter(pl.col("relation") == "follow").select("src", "dst")
    mutual = follows.join(follows, left_on=["src", "dst"], right_on=["dst", "src"], how="semi")
    recip = follows.group_by(pl.col("src").alias("account_id")).len().join(
        mutual.group_by(pl.col("src").alias("account_id")).len().rename({"len": "mutual"}), on="account_id", how="left"
    ).select("account_id", (pl.col("mutual").fill_null(0) / pl.col("len")).cast(pl.Float32).alias("follow_reciprocity"))

    # Shared infrastructure.
    usage: dict[str, pl.DataFrame] = {}
    for key, cap, rel, fname in (
        ("device", params.max_accounts_per_device, "shared_device", "accounts_per_device_max"),
        ("ip", params.max_accounts_per_ip, "shared_ip", "accounts_per_ip_max"),
        ("text", params.max_accounts_per_text, "same_text", "accounts_per_text_max"),
    ):
        u = _read_all([d / f"{key}.parquet" for d in bucket_dirs])
        if u is None or u.is_empty():
            continue
        usage[key] = u
        pairs = relations.shared_key_pairs(u, "key", cap).sort("src", "dst")
        tables[rel] = pairs
        counts[rel] = pairs.height
        accounts = accounts.join(_breadth(u, fname), on="account_id", how="left")
        accounts = accounts.join(_degree(pairs, rel), on="account_id", how="left")
    if "device" in usage:
        usage["device"].rename({"key": "device_id"}).sort("account_id").write_parquet(out / SNAPSHOT_ACCOUNT_DEVICE)
    if "ip" in usage:
        usage["ip"].rename({"key": "ip"}).sort("account_id").write_parquet(out / SNAPSHOT_ACCOUNT_IP)

    # Co-action (lockstep), summed across target buckets.
    co = _read_all([Path(p) for p in coaction or []])
    if co is None:
        co = pl.DataFrame(schema={"src": pl.String, "dst": pl.String, "count": pl.Int64,
                                  "first_ts": pl.Datetime("us", "UTC"), "last_ts": pl.Datetime("us", "UTC")})
    co = co.sort("src", "dst")
    tables["coaction"] = co
    counts["coaction"] = co.height
    accounts = accounts.join(_degree(co, "coaction"), on="account_id", how="left")
    accounts = accounts.join(_responses(_read_all([d / "response.parquet" for d in bucket_dirs])), on="account_id", how="left")

    # Who answered whom, summed across target buckets (a pair can meet on targets of several).
    answers = _read_all([d / "answers.parquet" for d in bucket_dirs])
    if answers is not None:
        tables[ANSWERS_RELATION] = answers.group_by("src", "dst").agg(
            pl.col("count").sum(), pl.col("first_ts").min(), pl.col("last_ts").max()).sort("src", "dst")
        counts[ANSWERS_RELATION] = tables[ANSWERS_RELATION].height

    end = dt.datetime.fromisoformat(end_ts) if isinstance(end_ts, str) else end_ts
    age = ((pl.lit(end) - pl.col("first_ts")).dt.total_seconds(fractional=True) / 86_400).cast(pl.Float32)
    table_facts: dict[str, int] = {}
    if accounts_table:
        ages, table_facts = _account_age(accounts_table, end)
        accounts = accounts.join(ages, on="account_id", how="left")
        table_facts["matched_accounts"] = accounts.height - accounts["account_age_days"].null_count()
        accounts = accounts.with_columns(pl.col("account_age_days").fill_null(age.fill_null(0.0)))
    accounts = (
        accounts.join(in_deg, on="account_id", how="left")
        .join(out_deg, on="account_id", how="left")
        .join(recip, on="account_id", how="left")
        .with_columns(age.fill_null(0.0).alias("observed_age_days"))
        .with_columns(pl.col(pl.Float32).fill_null(0.0))
        .sort("account_id")
    )
    accounts.write_parquet(out / SNAPSHOT_ACCOUNTS)
    _write_relations(out, tables, accounts["account_id"])
    return {"accounts": accounts.height, "relations": counts, **({"accounts_table": table_facts} if table_facts else {})}
