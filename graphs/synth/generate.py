"""The day loop: organic + campaign + hard-negative events → Parquet parts partitioned by day.

Every day is drawn from its own seeded generator, so days are independent and run on a pool
of threads, one per core: the heavy parts (NumPy sorts and gathers over whole days, Arrow
building and writing the Parquet parts) release the GIL, and threads share the population
instead of pickling it to worker processes (spawning those cost more than a 1M-event log
takes to write); the ground truth is written beside them. Memory is bounded by a day of
events per thread. Events a day produces for later days (follow-backs, delayed unfollows,
reactions late in the evening) are written as that day's own part in the later day's folder
(``date=D/part-<source day>.parquet``); those past the log's end are dropped.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graphs.synth import events as E
from graphs.synth.campaigns import campaign_day, plan_campaigns
from graphs.synth.config import CAMPAIGN_TYPES, EVENT_TYPES, HARD_NEGATIVE_TYPES, SynthConfig
from graphs.synth.events import CONTENT_PER_ACCOUNT, CONTENT_SHIFT, ET
from graphs.synth.hardneg import hard_negative_day, plan_hard_negatives
from graphs.synth.labels import ground_truth, make_labels
from graphs.synth.organic import organic_day
from graphs.synth.population import DAY_S, Population, assign_infra, mix64, organic_population
from ringwatch.errors import ConfigError


def _day_rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _day_weights(pop: Population, campaigns: list, day: int) -> np.ndarray:  # noqa: ANN001
    """Organic-activity weight of each account on ``day`` (zero before it exists)."""
    day_end = pop.start + (day + 1) * DAY_S
    w = np.where(pop.created < day_end, pop.activity, 0.0)
    for c in campaigns:
        if c.ctype == "sleeper" and day < c.wake_day:
            w[c.members] *= 0.03  # dormant: a login now and then
    return w


def _targets_exist(pop: Population, ev: E.Events) -> np.ndarray:
    """Whether each event's target account (and its content's owner) exists by the event's time.

    Customers and popular creators are picked once for the whole log, and a creator spike can
    make a picked account brand new, so a planned action may fall before its target signs up:
    such events are left out, as the platform would never have logged them.
    """
    ok = np.ones(len(ev["ts"]), bool)
    for owner in (ev["tacct"], ev["content"] >> CONTENT_SHIFT):
        named = owner >= 0
        ok[named] &= pop.created[owner[named]] * 1000 <= ev["ts"][named]
    return ok


def _signups(pop: Population, day: int) -> dict[str, np.ndarray]:
    lo, hi = pop.start + day * DAY_S, pop.start + (day + 1) * DAY_S
    who = np.flatnonzero((pop.created >= lo) & (pop.created < hi))
    return E.make(pop.created[who] * 1000, who, ET["signup"])


class _Tables:
    """The text of every id a day's events can name, formatted once: a day's id columns are
    gathered from these, and no per-event string is formatted."""

    def __init__(self, pop: Population, salt: int) -> None:
        dev = np.arange(pop.n_devices, dtype=np.uint64)
        # Device ids are scrambled, so allocation order says nothing.
        self.device = pc.cast(pa.array((mix64(dev + np.uint64(salt)) >> np.uint64(18)).astype(np.int64)), pa.string())
        self.account = pc.cast(pa.array(pop.ids), pa.string())
        self.ip = pop.ip_table
        self.event_type = pa.array(EVENT_TYPES, pa.string())


def _text(values: np.ndarray, table: pa.Array) -> pa.DictionaryArray:
    """``table[values]`` (negative values: nulls) as a dictionary array over just the entries the
    part uses: the Parquet writer stores such a dictionary and its indices as they are instead of
    hashing every string (measured 30-50% cheaper per column), and a part's file carries only its
    own ids. ``table`` must hold distinct strings (a repeat makes the writer fall back to plain pages)."""
    used = np.zeros(len(table) + 1, bool)  # slot 0 collects the nulls
    shifted = values + 1
    used[shifted] = True
    used[0] = False
    position = np.cumsum(used, dtype=np.int32) - 1  # index in the part's dictionary
    indices = position[shifted]
    nulls = values < 0
    entries = pa.array(np.flatnonzero(used[1:]).astype(np.int32))
    return pa.DictionaryArray.from_arrays(pa.array(indices, mask=nulls) if nulls.any() else pa.array(indices),
                                          table.take(entries))


def _frame(pop: Population, tables: _Tables, ev: dict[str, np.ndarray], id_base: int) -> pa.Table:
    """Canonical events table (``ev`` sorted by ``ts``). Ids that repeat (accounts, devices, IPs)
    are dictionary arrays over the part's entries of :class:`_Tables`, event types a dictionary
    array of the type names, and content, text and event ids are formatted from integers by Arrow."""
    content, text = ev["content"], ev["text"]
    content_id = (pop.ids[np.maximum(content, 0) >> CONTENT_SHIFT] << CONTENT_SHIFT) | (content & (CONTENT_PER_ACCOUNT - 1))
    return pa.table({
        "ts": pa.array(ev["ts"] * 1000, pa.timestamp("us", "UTC")),
        "actor_id": _text(ev["actor"], tables.account),
        "event_type": pa.DictionaryArray.from_arrays(pa.array(ev["etype"].astype(np.int32)), tables.event_type),
        "target_account_id": _text(ev["tacct"], tables.account),
        "target_content_id": pc.cast(pa.array(content_id, mask=content < 0), pa.string()),
        "device_id": _text(ev["dev"], tables.device),
        "ip": _text(ev["ip"], tables.ip),
        "text_hash": pc.cast(pa.array(text, mask=text < 0), pa.string()),
        "event_id": pc.cast(pa.array(np.arange(len(content), dtype=np.int64) + id_base), pa.string()),
    })


class _Shared:
    """What every day reads (never writes): the population, campaigns, episodes and id tables."""

    def __init__(self, cfg: SynthConfig, pop: Population, campaigns: list, episodes: list, events_dir: Path,  # noqa: ANN001
                 salt: int) -> None:
        self.cfg, self.pop, self.campaigns, self.episodes, self.events_dir = cfg, pop, campaigns, episodes, events_dir
        self.tables = _Tables(pop, salt)


@dataclass
class _Part:
    """Events one day drew for one (same or later) day: written as ``date=<d>/part-<day>.parquet``."""

    day: int
    d: int
    ev: dict[str, np.ndarray]
    id_base: int


def _draw(shared: _Shared, day: int) -> tuple[dict[str, object], list[_Part]]:
    """Draw and resolve one day: its statistics and its parts to write. Events spilling into
    later days go to those days' folders as their own part."""
    cfg, pop, campaigns = shared.cfg, shared.pop, shared.campaigns
    drng = _day_rng(cfg.seed, 1, day)
    parts = [_signups(pop, day), *organic_day(cfg, pop, day, _day_weights(pop, campaigns, day), drng)]
    for c in campaigns:
        parts += campaign_day(cfg, pop, c, day, drng)
    parts += hard_negative_day(pop, shared.episodes, day, drng)
    ev = E.concat(parts)
    del parts
    day_lo = (pop.start + day * DAY_S) * 1000
    ev["ts"] = np.maximum(ev["ts"], day_lo)
    ev = E.take(ev, np.flatnonzero(_targets_exist(pop, ev)))
    # Devices and IPs before the time sort: the events are still grouped by actor, so the
    # per-account lookups walk the profile arrays in order instead of at random.
    dev, ip = assign_infra(pop, ev["actor"], ev["ts"], day, drng.random(len(ev["ts"]), dtype=np.float32))
    ev["dev"] = np.where(ev["dev"] == E.AUTO, dev, ev["dev"])
    ev["ip"] = np.where(ev["ip"] == E.AUTO, ip, ev["ip"])
    del dev, ip
    order, rel_ts = E.time_order(ev["ts"] - day_lo, pop.end * 1000 - day_lo)
    ev = E.take({k: v for k, v in ev.items() if k != "ts"}, order)
    ev["ts"] = rel_ts + day_lo
    ab = ev["abuse"]
    abuse_actor, first_idx = np.unique(ev["actor"][ab], return_index=True)
    bot = ev["actor"] >= pop.n_org
    bot_actor, bot_idx = np.unique(ev["actor"][bot], return_index=True)
    stats: dict[str, object] = {
        "abuse_actor": abuse_actor, "abuse_ts": ev["ts"][ab][first_idx], "abuse_events": int(ab.sum()),
        "bot_actor": bot_actor, "bot_ts": ev["ts"][bot][bot_idx],
        "by_type": np.bincount(ev["etype"], minlength=len(EVENT_TYPES)), "rows": {},
    }
    bounds = np.searchsorted(ev["ts"], (pop.start + np.arange(day, cfg.days + 1) * DAY_S) * 1000)
    id_base = (day + 1) * 10_000_000_000
    parts_out: list[_Part] = []
    for d, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:]), start=day):
        if hi > lo:
            parts_out.append(_Part(day, d, {k: v[lo:hi] for k, v in ev.items()}, id_base + int(lo)))  # views, no copy
            stats["rows"][d] = int(hi - lo)  # type: ignore[index]
    return stats, parts_out


def _write(shared: _Shared, part: _Part) -> None:
    """Format one part as the canonical table and write it."""
    frame = _frame(shared.pop, shared.tables, part.ev, part.id_base)
    date = str(np.datetime64(shared.pop.start + part.d * DAY_S, "s").astype("datetime64[D]"))
    folder = shared.events_dir / f"date={date}"
    folder.mkdir(parents=True, exist_ok=True)
    _write_part(frame, folder / f"part-{part.day:05d}.parquet", shared.cfg.compression)


def _run_days(shared: _Shared, threads: int) -> list[dict[str, object]]:
    """Draw every day and write its parts on ``threads`` threads; return each day's statistics.

    A drawn day's writes are queued ahead of the next draw, so at most ``threads`` drawn days
    wait in memory, and the pool ends on small write tasks instead of one thread finishing a
    whole day alone.
    """
    days = iter(range(shared.cfg.days))
    stats: list[dict[str, object]] = []
    with ThreadPoolExecutor(threads, thread_name_prefix="synth-day") as pool:
        running = {pool.submit(_draw, shared, day) for day in islice(days, threads)}
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                result = fut.result()
                if result is None:
                    continue
                day_stats, parts = result
                stats.append(day_stats)
                running |= {pool.submit(_write, shared, part) for part in parts}
                nxt = next(days, None)
                if nxt is not None:
                    running.add(pool.submit(_draw, shared, nxt))
    return stats


_DICTIONARY_COLUMNS = ["actor_id", "event_type", "target_account_id", "device_id", "ip"]
"""Dictionary-encoded in the Parquet files: ids repeat within a day (smaller and, measured,
faster to write than plain pages). They come as dictionary arrays (see :func:`_text`)."""
_DICTIONARY_PAGE_LIMIT = 16 << 20
"""Room for a part's distinct ids (~4 MB of account ids a part at 10M events): past Arrow's
default of 1 MB the writer falls back to plain pages, measured bigger and slower."""
_ROW_GROUP = 1 << 22
"""Rows per Parquet row group: each group repeats the part's id dictionaries, so the parts of a
10M-event log (~1.5M rows) are one group each."""
_FAST_CODECS = ("lz4", "snappy")


def _write_part(frame: pa.Table, path: Path, compression: str) -> None:
    """One Parquet part; statistics on ``ts`` only (what readers prune by). ``ts`` is sorted, so
    it is delta-encoded (a few bits a row; measured smaller and 2x cheaper than compressed plain
    values) and left uncompressed. A fast codec skips the dictionary-encoded id columns too: their
    bit-packed indices hardly shrink, and compressing them was a sixth of the write. Without the
    stored Arrow schema, readers see the dictionary columns as plain strings (the canonical schema)."""
    codec = "none" if compression == "uncompressed" else compression  # Arrow's name for it
    skip = {"ts", *_DICTIONARY_COLUMNS} if codec in _FAST_CODECS else {"ts"}
    codecs = {name: "none" if name in skip else codec for name in frame.column_names}
    pq.write_table(frame, path, compression=codecs, use_dictionary=_DICTIONARY_COLUMNS,
                   dictionary_pagesize_limit=_DICTIONARY_PAGE_LIMIT, row_group_size=_ROW_GROUP,
                   column_encoding={"ts": "DELTA_BINARY_PACKED"}, write_statistics=["ts"], store_schema=False)


def _threads(cfg: SynthConfig) -> int:
    """Day threads: one per core, at most one per day."""
    return max(1, min(os.cpu_count() or 1, cfg.days))


def _write_truth(out: Path, pop: Population, campaigns: list) -> None:  # noqa: ANN001
    """``ground_truth.parquet`` and ``accounts.parquet``."""
    truth = ground_truth(pop, campaigns)
    truth.write_parquet(out / "ground_truth.parquet")
    truth.select("account_id", "created_at").write_parquet(out / "accounts.parquet")


_OUTPUTS = frozenset({"events", "labels.parquet", "ground_truth.parquet", "accounts.parquet", "summary.json"})
"""What a run writes under ``out`` (and all a folder it may write into again may hold)."""


def _clear_for_a_new_run(out: Path) -> Path:
    """Remove an earlier run's files from ``out`` (its summary first, so a run that fails part-way
    leaves no summary of another's files) and return the events folder.

    Raises:
        ConfigError: ``out`` holds anything a run does not write: it is not a synth folder.
    """
    events = out / "events"
    foreign = sorted(p.name for p in out.iterdir() if p.name not in _OUTPUTS) if out.is_dir() else []
    if events.is_dir():
        foreign += sorted(f"events/{p.name}" for p in events.iterdir() if not p.name.startswith("date="))
    if foreign:
        raise ConfigError(f"--out {out} holds files a synth run does not write ({', '.join(foreign[:5])}); give an empty "
                          "folder or one an earlier run wrote")
    for name in ("summary.json", *sorted(_OUTPUTS - {"summary.json", "events"})):
        (out / name).unlink(missing_ok=True)
    if events.exists():
        shutil.rmtree(events)
    return events


def generate(out: Path, cfg: SynthConfig) -> dict[str, object]:
    """Write a synthetic event log, labels, ground truth and a summary under ``out``.

    Args:
        out: Target folder: created, or one an earlier run wrote (its files are replaced);
            a folder holding anything else is refused.
        cfg: Generator configuration.

    Returns:
        The summary also written to ``out/summary.json``.
    """
    cfg.validate()
    t_start = time.perf_counter()
    rng = _day_rng(cfg.seed, 0)
    start = int(np.datetime64(cfg.start, "s").astype(np.int64))
    pop = organic_population(cfg, start, rng)
    campaigns = plan_campaigns(cfg, pop, rng)
    episodes = plan_hard_negatives(cfg, pop, rng)
    pop.finalize(rng)
    salt = int(rng.integers(0, 1 << 40))

    out = Path(out)
    events_dir = _clear_for_a_new_run(out)
    events_dir.mkdir(parents=True)
    first_abuse = np.full(pop.n, np.iinfo(np.int64).max, dtype=np.int64)
    first_bot_event = first_abuse.copy()
    per_day = np.zeros(cfg.days, np.int64)
    by_type = np.zeros(len(EVENT_TYPES), np.int64)
    abusive_events = 0
    shared = _Shared(cfg, pop, campaigns, episodes, events_dir, salt)
    workers = _threads(cfg)
    # The ground truth needs no day: it is written beside the days instead of after them.
    with ThreadPoolExecutor(1, thread_name_prefix="synth-truth") as side:
        truth_written = side.submit(_write_truth, out, pop, campaigns)
        results = _run_days(shared, workers)
        truth_written.result()
    for r in results:
        np.minimum.at(first_abuse, r["abuse_actor"], r["abuse_ts"])
        np.minimum.at(first_bot_event, r["bot_actor"], r["bot_ts"])
        abusive_events += r["abuse_events"]
        by_type += r["by_type"]
        for d, rows in r["rows"].items():
            per_day[d] += rows

    labels, label_stats = make_labels(cfg, pop, campaigns, first_abuse, first_bot_event, _day_rng(cfg.seed, 2))
    labels.write_parquet(out / "labels.parquet")
    elapsed = time.perf_counter() - t_start
    total = int(per_day.sum())
    hn_counts = np.bincount(pop.hn[pop.hn >= 0].astype(np.int64), minlength=len(HARD_NEGATIVE_TYPES))
    summary: dict[str, object] = {
        "config": asdict(cfg),
        "events": total,
        "events_per_day": per_day.tolist(),
        "threads": workers,
        "events_by_type": {t: int(n) for t, n in zip(EVENT_TYPES, by_type)},
        "campaign_events": abusive_events,
        "accounts": pop.n,
        "organic_accounts": pop.n_org,
        "abusive_accounts": int((pop.campaign >= 0).sum()),
        "campaigns": {t: sum(1 for c in campaigns if c.ctype == t) for t in CAMPAIGN_TYPES},
        "campaign_list": [c.summary() for c in campaigns],
        "hard_negative_accounts": {t: int(n) for t, n in zip(HARD_NEGATIVE_TYPES, hn_counts)},
        "hard_negative_episodes": [e.summary() for e in episodes],
        "labels": label_stats,
        "accounts_table": "accounts.parquet (account_id, created_at): creation time of every account; "
                          "the log itself has signup events only for accounts created inside it",
        "seconds": round(elapsed, 3),
        "events_per_second": round(total / elapsed) if elapsed > 0 else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
