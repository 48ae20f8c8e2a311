"""Edges of the snapshot: direct interactions, co-action (lockstep) and shared infrastructure.

* **Direct**: one relation per event type, actor → ``target_account_id`` (for content actions
  the log's ``target_account_id`` is the content's owner), with count and time range.
* **Co-action** (SynchroTrap / CopyCatch): two accounts co-act when they act on the same
  target within the same window of ``window_s`` seconds. Windows are fixed buckets of the
  timestamp, evaluated twice with a half-window offset so pairs straddling a boundary are
  not lost. Each (target, window) keeps at most ``max_actors`` actors, chosen by a stable
  hash, so a viral target costs O(max_actors²) pairs instead of O(actors²). The pair weight is
  the number of distinct (target, day) episodes in which the pair acted within one window;
  pairs with fewer than ``min_count`` episodes are dropped at assembly time (a single
  coincidence is organic).
* **Responses**: per actor, how often the next action on the same target within ``window_s``
  comes from another account (its action was *answered*: reverted, piled onto) and how often
  its own action follows another account's within ``window_s`` (it *replied*). On an edit log
  this is the revert signal; on a video platform, pile-ons and lockstep.
* **Shared infrastructure**: accounts sharing a device, an IP, or a near-duplicate text
  fingerprint. Keys used by more than ``max_accounts`` accounts (carrier NAT, campus Wi-Fi,
  a viral giveaway phrase) produce no pairs; their breadth is kept as a per-account feature.
"""

from __future__ import annotations

import polars as pl

COACTION_TYPES = ("follow", "like", "view", "comment", "share", "message", "report")
"""Known event types whose targets can be acted on in lockstep."""
NON_COACTION_TYPES = ("post", "login", "signup", "unfollow")
"""Known event types that are never lockstep evidence (own content, sessions, churn).
Types outside both lists (the open vocabulary: ``edit``, ``vote``, ...) do co-act: an unknown
action on a shared target is exactly what lockstep is about."""
EDGE_COLUMNS = ("src", "dst", "count", "first_ts", "last_ts")


def direct_edges(events: pl.DataFrame) -> pl.DataFrame:
    """Aggregate direct account → account interactions per event type.

    Returns:
        ``relation, src, dst, count, first_ts, last_ts``.
    """
    return (
        events.filter(pl.col("target_account_id").is_not_null() & (pl.col("target_account_id") != pl.col("actor_id")))
        .group_by("event_type", "actor_id", "target_account_id")
        .agg(pl.len().cast(pl.Int64).alias("count"), pl.col("ts").min().alias("first_ts"), pl.col("ts").max().alias("last_ts"))
        .rename({"event_type": "relation", "actor_id": "src", "target_account_id": "dst"})
    )


def key_usage(events: pl.DataFrame, key: str) -> pl.DataFrame:
    """Account × key usage (e.g. device, ip, text_hash) with count and time range."""
    return (
        events.filter(pl.col(key).is_not_null())
        .group_by("actor_id", key)
        .agg(pl.len().cast(pl.Int64).alias("count"), pl.col("ts").min().alias("first_ts"), pl.col("ts").max().alias("last_ts"))
        .rename({"actor_id": "account_id"})
    )


def coacts() -> pl.Expr:
    """True for events whose target counts for co-action: known lockstep types and unknown ones."""
    return pl.col("event_type").is_in(COACTION_TYPES) | ~pl.col("event_type").is_in(NON_COACTION_TYPES)


def responses(slim: pl.DataFrame, window_s: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Who answered whom within one target bucket, per actor and per pair, from one sort of its rows.

    An action is *answered* when the next action on the same target, within ``window_s``, is
    another account's; it is *replying* when the action before it on the target, within the
    window, is another account's (on an edit log: a revert, and being reverted).

    Args:
        slim: ``target, ts, actor_id`` rows (all rows of each target are in this bucket).
        window_s: How soon after an action another account's action counts as an answer.

    Returns:
        ``counts``: ``actor_id, n_targeted, n_answered, n_replying`` (i64); and ``pairs``: ``src``
        (the account whose action came next on the target, strictly later), ``dst`` (the account
        it answered), ``count`` (answers), ``first_ts``, ``last_ts``. Sums over buckets are exact,
        because a target's rows are never split; a pair can also occur in other buckets, and the
        build sums them. In ``pairs``, unlike ``counts``, an action in the same instant is no answer.
    """
    if slim.is_empty():
        return (pl.DataFrame(schema={"actor_id": pl.String, "n_targeted": pl.Int64, "n_answered": pl.Int64,
                                     "n_replying": pl.Int64}),
                pl.DataFrame(schema={"src": pl.String, "dst": pl.String, "count": pl.Int64,
                                     "first_ts": slim.schema["ts"], "last_ts": slim.schema["ts"]}))
    ordered = slim.sort("target", "ts", "actor_id")
    window = pl.duration(seconds=window_s)
    return _response_counts(ordered, window), _answer_pairs(ordered, window)


def _response_counts(ordered: pl.DataFrame, window: pl.Expr) -> pl.DataFrame:
    same_next = pl.col("target").shift(-1) == pl.col("target")
    same_prev = pl.col("target").shift(1) == pl.col("target")
    answered = same_next & (pl.col("actor_id").shift(-1) != pl.col("actor_id")) & (pl.col("ts").shift(-1) - pl.col("ts") <= window)
    replying = same_prev & (pl.col("actor_id").shift(1) != pl.col("actor_id")) & (pl.col("ts") - pl.col("ts").shift(1) <= window)
    return (
        ordered.with_columns(answered.fill_null(False).alias("_a"), replying.fill_null(False).alias("_r"))
        .group_by("actor_id")
        .agg(pl.len().cast(pl.Int64).alias("n_targeted"), pl.col("_a").sum().cast(pl.Int64).alias("n_answered"),
             pl.col("_r").sum().cast(pl.Int64).alias("n_replying"))
    )


def _answer_pairs(ordered: pl.DataFrame, window: pl.Expr) -> pl.DataFrame:
    nxt = pl.col("actor_id").shift(-1)
    gap = pl.col("ts").shift(-1) - pl.col("ts")
    # strictly later: accounts acting in the same instant are in lockstep, and sorting by id would
    # otherwise make one "answer" the other
    answered = ((pl.col("target").shift(-1) == pl.col("target")) & (nxt != pl.col("actor_id"))
                & (gap <= window) & (gap > pl.duration(seconds=0)))
    return (
        ordered.select(nxt.alias("src"), pl.col("actor_id").alias("dst"), pl.col("ts").shift(-1).alias("ts"), answered.alias("_a"))
        .filter(pl.col("_a"))
        .group_by("src", "dst")
        .agg(pl.len().cast(pl.Int64).alias("count"), pl.col("ts").min().alias("first_ts"), pl.col("ts").max().alias("last_ts"))
    )


def coaction_target(events: pl.DataFrame) -> pl.Expr:
    """The target key co-action is computed on: the content if any, else the account."""
    return pl.coalesce(
        pl.format("c:{}", pl.col("target_content_id")),
        pl.format("a:{}", pl.col("target_account_id")),
    )


def _pairs(cells: pl.DataFrame, group: list[str], member: str) -> pl.DataFrame:
    """All unordered member pairs within each group (self-join, a < b)."""
    left = cells.rename({member: "src"})
    right = cells.rename({member: "dst"})
    return left.join(right, on=group, how="inner").filter(pl.col("src") < pl.col("dst"))


def coaction_pairs(slim: pl.DataFrame, window_s: int, max_actors: int, max_neighbors: int = 32,
                   max_join_rows: int = 20_000_000) -> pl.DataFrame:
    """Co-action pair counts within one target bucket.

    The work is done on integer codes (actors and targets are dense-ranked first), so the
    pair self-join and the final group-by run on integers, not strings.

    Args:
        slim: ``target, ts, actor_id`` rows (all rows of each target are in this bucket).
        window_s: Window length Δ in seconds.
        max_actors: Cap on actors kept per (target, window).
        max_neighbors: In cells with more actors than this, each actor pairs only with this many
            successors in time order (linear, not quadratic, in crowded cells).
        max_join_rows: Pair rows one self-join may make; above it the cells are processed in
            chunks of whole episodes (same result, bounded memory).

    Returns:
        ``src, dst, count, first_ts, last_ts`` with ``src < dst``; ``count`` is the number of
        distinct (target, day) episodes in which the pair acted within one window.
    """
    schema = {"src": pl.String, "dst": pl.String, "count": pl.Int64,
              "first_ts": pl.Datetime("us", "UTC"), "last_ts": pl.Datetime("us", "UTC")}
    if slim.is_empty():
        return pl.DataFrame(schema=schema)
    actors = slim.select(pl.col("actor_id").unique().sort()).with_row_index("a")
    coded = slim.join(actors, on="actor_id").select(
        pl.col("target").rank("dense").cast(pl.Int64).alias("t"),
        pl.col("ts").dt.epoch("s").alias("s"),
        pl.col("a").cast(pl.Int64),
    )
    half = window_s // 2
    n_win = int(coded["s"].max() // window_s) + 2
    days = max(1, 86_400 // window_s)
    shifted = []
    # Episodes are (target, day) with the day of the unshifted window, and a cell never spans two
    # days: the offset window across midnight is two cells (its day's parity is in the cell id).
    # Otherwise a pair acting once just before midnight shared an unshifted cell on its day and the
    # offset cell on the next, two episodes from one coincidence (it passed coaction_min_count = 2).
    # The few pairs that act within one window across midnight are no pair at all now.
    day = (pl.col("s") // window_s) // days
    for flag, offset in ((0, 0), (1, half)):
        w = (pl.col("s") + offset) // window_s
        cells = (
            coded.with_columns((((pl.col("t") * 2 + flag) * n_win + w) * 2 + day % 2).alias("cell"),
                               (pl.col("t") * (n_win // days + 2) + day).alias("episode"))
            .group_by("cell", "a").agg(pl.col("s").min(), pl.col("episode").first())
            .with_columns(pl.col("a").hash(seed=17).rank("ordinal").over("cell").alias("_r"))
            .filter(pl.col("_r") <= max_actors)
            .drop("_r")
        )
        shifted.append(cells)
    cells = pl.concat(shifted).with_columns(pl.len().over("cell").alias("_n"))
    # Small cells pair everyone. In a crowded cell (a viral video: hundreds of actors in every
    # window) each actor pairs only with its ``max_neighbors`` successors in time order: lockstep
    # actors act seconds apart, so they stay adjacent, and the rows grow as n·k, not n²/2 —
    # SynchroTrap's and CopyCatch's point that synchrony, not co-presence in a crowd, is the signal.
    k = max_neighbors
    small = cells.filter(pl.col("_n") <= k + 1)
    crowd = (cells.filter(pl.col("_n") > k + 1).sort("cell", "s", "a")
             .with_columns(pl.int_range(pl.len()).over("cell").alias("_o")))
    sizes = cells.group_by("cell").agg(pl.col("_n").first())["_n"].cast(pl.Int64)
    join_rows = int(pl.select(pl.when(sizes <= k + 1).then(sizes * (sizes - 1) // 2).otherwise(sizes * k)).to_series().sum())
    # Episodes (target, day) are disjoint between chunks of cells split by episode, so per-chunk
    # distinct-episode counts add up: memory is bounded by the chunk, not by the biggest hub.
    n_chunks = max(1, -(-join_rows // max_join_rows))

    def chunked(frame: pl.DataFrame) -> list[pl.DataFrame]:
        if n_chunks == 1:
            return [frame]
        keyed = frame.with_columns((pl.col("episode").hash(seed=5) % n_chunks).alias("_k"))
        return [keyed.filter(pl.col("_k") == i).drop("_k") for i in range(n_chunks)]

    def ordered(rows: pl.DataFrame) -> pl.DataFrame:
        return rows.select(pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b"), "episode",
                           pl.min_horizontal("s", "s_b").alias("s"))

    per_chunk = []
    for small_k, crowd_k in zip(chunked(small), chunked(crowd)):
        rows = [ordered(small_k.join(small_k.select("cell", pl.col("a").alias("b"), pl.col("s").alias("s_b")), on="cell")
                        .filter(pl.col("a") < pl.col("b")))]
        right = crowd_k.select("cell", "_o", pl.col("a").alias("b"), pl.col("s").alias("s_b"))
        rows += [ordered(crowd_k.join(right.with_columns(pl.col("_o") - d), on=["cell", "_o"])) for d in range(1, k + 1)]
        per_chunk.append(
            pl.concat(rows).group_by("a", "b").agg(pl.col("episode").n_unique().cast(pl.Int64).alias("count"),
                                                   pl.col("s").min().alias("first"), pl.col("s").max().alias("last")))
    pairs = per_chunk[0] if len(per_chunk) == 1 else pl.concat(per_chunk).group_by("a", "b").agg(
        pl.col("count").sum(), pl.col("first").min(), pl.col("last").max())
    names = actors["actor_id"]
    return pairs.select(
        names.gather(pairs["a"].cast(pl.UInt32)).alias("src"),
        names.gather(pairs["b"].cast(pl.UInt32)).alias("dst"),
        "count",
        pl.from_epoch("first", "s").dt.replace_time_zone("UTC").dt.cast_time_unit("us").alias("first_ts"),
        pl.from_epoch("last", "s").dt.replace_time_zone("UTC").dt.cast_time_unit("us").alias("last_ts"),
    )


def shared_key_pairs(usage: pl.DataFrame, key: str, max_accounts: int) -> pl.DataFrame:
    """Account pairs sharing a key (device, IP, text), weighted by the number of keys shared.

    Args:
        usage: ``account_id, <key>, count, first_ts, last_ts`` for all accounts.
        key: The key column.
        max_accounts: Keys used by more accounts than this produce no pairs.

    Returns:
        ``src, dst, count, first_ts, last_ts`` with ``src < dst``.
    """
    narrow = usage.with_columns(pl.len().over(key).alias("_n")).filter((pl.col("_n") >= 2) & (pl.col("_n") <= max_accounts))
    pairs = _pairs(narrow.select("account_id", key, "first_ts"), [key], "account_id")
    return pairs.group_by("src", "dst").agg(
        pl.len().cast(pl.Int64).alias("count"),
        pl.min_horizontal("first_ts", "first_ts_right").min().alias("first_ts"),
        pl.max_horizontal("first_ts", "first_ts_right").max().alias("last_ts"),
    )
