"""Organic activity: sessions with a daily and weekly rhythm by time zone, heavy-tailed
activity and popularity, community-local targets and reciprocal follows."""

from __future__ import annotations

import numpy as np

from graphs.synth import events as E
from graphs.synth.events import CONTENT_PER_ACCOUNT, ET
from graphs.synth.population import DAY_S, ROLE_BOT, ROLE_CREATOR, ROLE_LURKER, ROLE_REGULAR, Population

_WEEKDAY = np.array([1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.2, 1.4, 1.3, 1.2, 1.3,
                     1.5, 1.4, 1.3, 1.3, 1.4, 1.6, 1.9, 2.2, 2.4, 2.3, 1.9, 1.4])
_WEEKEND = np.array([1.5, 1.1, 0.8, 0.5, 0.3, 0.3, 0.4, 0.6, 0.9, 1.2, 1.4, 1.6,
                     1.7, 1.7, 1.6, 1.6, 1.7, 1.8, 2.0, 2.2, 2.4, 2.4, 2.2, 1.8])
HOUR_CDF = {False: np.cumsum(_WEEKDAY) / _WEEKDAY.sum(), True: np.cumsum(_WEEKEND) / _WEEKEND.sum()}

_TYPES = ("view", "like", "comment", "share", "follow", "unfollow", "message", "post", "login", "report")
_MIX = np.array([
    # view  like  comm  share foll  unf   msg   post  login report
    [0.20, 0.24, 0.11, 0.05, 0.06, 0.005, 0.12, 0.12, 0.075, 0.01],   # creator
    [0.30, 0.30, 0.07, 0.05, 0.07, 0.005, 0.10, 0.02, 0.08, 0.005],   # regular
    [0.55, 0.25, 0.02, 0.03, 0.05, 0.003, 0.03, 0.00, 0.066, 0.001],  # lurker
    [0.35, 0.30, 0.04, 0.03, 0.12, 0.005, 0.03, 0.01, 0.11, 0.005],   # bot acting "organically"
])
_MIX_CUM = np.cumsum(_MIX / _MIX.sum(axis=1, keepdims=True), axis=1)
_MIX_CUM[:, -1] = 1.0
_TYPE_CODE = np.array([ET[t] for t in _TYPES], dtype=np.int8)


def _type_table(buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Search-free draw of event types: every role's type CDF shifted by the role code (role r
    owns [r, r + 1)), cut into buckets of width ``1 / buckets``. Per bucket: the type at its
    start, the one CDF step inside it (past every query if none) and the type from that step on.
    The buckets are fine enough to hold at most one step each (checked)."""
    steps = (_MIX_CUM + np.arange(len(_MIX))[:, None]).ravel()
    lo_edge = np.arange(len(_MIX) * buckets + 1) / buckets  # one spare bucket for q rounding up to the end
    first = np.searchsorted(steps, lo_edge, side="right")
    last = np.searchsorted(steps, lo_edge + 1.0 / buckets, side="left")
    assert all(len(set(steps[a:b])) <= 1 for a, b in zip(first, last)), "buckets too coarse for the type mix"
    role = np.minimum(np.arange(len(lo_edge)) // buckets, len(_MIX) - 1)
    split = np.where(last > first, steps[np.minimum(first, len(steps) - 1)], len(_MIX) + 1.0)

    def type_after(steps_below: np.ndarray) -> np.ndarray:
        return _TYPE_CODE[np.clip(steps_below - len(_TYPES) * role, 0, len(_TYPES) - 1)]

    return type_after(first), split, type_after(last)


_TYPE_BUCKETS = 4096
_TYPE_BELOW, _TYPE_SPLIT, _TYPE_ABOVE = _type_table(_TYPE_BUCKETS)
# Probability that the target comes from the actor's own community, by event code.
_P_COMM = np.full(len(ET), 0.45, np.float32)
_P_COMM[ET["message"]] = 0.85
_P_COMM[ET["follow"]] = 0.5
_P_COMM[ET["report"]] = 0.1
_HAS_TARGET = np.ones(len(ET), bool)
_HAS_TARGET[[ET["login"], ET["post"]]] = False
_ON_CONTENT = np.zeros(len(ET), bool)
_ON_CONTENT[[ET["view"], ET["like"], ET["comment"], ET["share"], ET["report"]]] = True
_HAS_TEXT = np.zeros(len(ET), bool)
_HAS_TEXT[[ET["comment"], ET["message"]]] = True
_FOLLOWS_BACK = np.array([r in (ROLE_REGULAR, ROLE_LURKER) for r in range(ROLE_BOT + 1)])
"""By role: regular users and lurkers follow back; creators (and bots) rarely."""
_MEAN_SESSION = 4.0
"""Mean events per session (geometric lengths)."""
COMMON_PHRASES = 400
"""Organic comments drawn from a shared vocabulary ("lol", "🔥🔥", "first") hash alike."""


def common_phrase(rng: np.random.Generator, k: int) -> np.ndarray:
    return 1_000 + np.minimum(rng.zipf(1.4, k), COMMON_PHRASES)


def unique_text(rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.integers(1 << 40, 1 << 60, k)


def lognormal_ms(rng: np.random.Generator, median_ms: float, sigma: float, k: int) -> np.ndarray:
    """Log-normal durations in whole milliseconds, drawn in float32 (ample for gaps of seconds to hours)."""
    z = rng.standard_normal(k, dtype=np.float32)
    z *= np.float32(sigma)
    z += np.float32(np.log(median_ms))
    return np.exp(z).astype(np.int64)


def hour_offsets_ms(rng: np.random.Generator, k: int, weekend: bool, tz: np.ndarray) -> np.ndarray:
    """Milliseconds after UTC midnight for events at local hours drawn from the daily rhythm."""
    hour = np.searchsorted(HOUR_CDF[weekend], rng.random(k), side="right")
    local = hour * 3600.0 + rng.random(k) * 3600.0
    return (((local - tz * 3600.0) % DAY_S) * 1000).astype(np.int64)


def content_k(rng: np.random.Generator, k: int) -> np.ndarray:
    """Which of an owner's videos: recent ones are far more popular."""
    u = rng.random(k)
    return (CONTENT_PER_ACCOUNT * (u * u * u)).astype(np.int64)


def organic_day(cfg, pop: Population, day: int, weight: np.ndarray, rng: np.random.Generator) -> list[E.Events]:  # noqa: ANN001
    """One day of organic sessions for every account with a positive weight, and the follow-backs
    they trigger (as two event batches)."""
    day_ms = (pop.start + day * DAY_S) * 1000
    weekend = bool((np.datetime64(pop.start + day * DAY_S, "s").astype("datetime64[D]").astype(np.int64) + 3) % 7 >= 5)
    if float(weight.sum()) <= 0:
        return []
    actor, ts = _sessions(cfg, pop, day_ms, weekend, weight, rng)
    role = pop.role[actor]
    etype = _event_types(role, rng)
    actor, ts, etype, tacct = _targets(pop, actor, ts, etype, role, rng)
    content, text = _content_and_text(actor, etype, tacct, rng)
    return [E.make(ts, actor, etype, tacct, content, text), _follow_backs(cfg, pop, actor, ts, etype, tacct, rng)]


def _sessions(cfg, pop: Population, day_ms: int, weekend: bool, weight: np.ndarray,  # noqa: ANN001
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Actor and time of every organic event, grouped by actor: sessions (Poisson per account,
    starting by the daily rhythm of its time zone, never before it exists) of a geometric number
    of events, log-normal gaps apart."""
    rate = cfg.events_per_account_day / _MEAN_SESSION * (1.1 if weekend else 1.0)
    sess_actor = np.repeat(np.arange(pop.n, dtype=np.int32), rng.poisson(weight * rate))
    start = day_ms + hour_offsets_ms(rng, len(sess_actor), weekend, pop.tz[sess_actor])
    alive = start >= pop.created[sess_actor] * 1000
    sess_actor, start = sess_actor[alive], start[alive]
    if not len(start):
        return sess_actor, start
    length = rng.geometric(1.0 / _MEAN_SESSION, len(start))
    # One running sum gives every time: each session's first gap also jumps from the previous
    # session's last event to this session's start.
    step = lognormal_ms(rng, 25_000.0, 1.1, int(length.sum()))
    first = np.cumsum(length) - length
    last_ts = start + np.add.reduceat(step, first)
    step[first] += start - np.concatenate([[0], last_ts[:-1]])
    return np.repeat(sess_actor, length), np.cumsum(step)


def _event_types(role: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Event type codes drawn from each actor's role mix (see :func:`_type_table`)."""
    q = rng.random(len(role)) + role
    b = (q * _TYPE_BUCKETS).astype(np.int32)
    return np.where(q >= _TYPE_SPLIT[b], _TYPE_ABOVE[b], _TYPE_BELOW[b])


def _targets(pop: Population, actor: np.ndarray, ts: np.ndarray, etype: np.ndarray, role: np.ndarray,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Target accounts (by popularity, from the actor's community with a per-type probability,
    else from everyone; -1 for logins and posts). Events aimed at the actor itself or at an
    account that does not exist yet are dropped: returns the kept actor, ts, etype and target.
    Every event draws (the few without a target ignore theirs): cheaper than selecting first."""
    local = (rng.random(len(actor), dtype=np.float32) < _P_COMM[etype]) & (role != ROLE_BOT)
    tgt = pop.sample_targets(np.where(local, pop.community[actor], -1), rng.random(len(actor)))
    has = _HAS_TARGET[etype]
    keep = ~has | ((tgt != actor) & (pop.created[tgt] * 1000 <= ts))
    tacct = np.where(has, tgt, -1).astype(np.int32)
    return actor[keep], ts[keep], etype[keep], tacct[keep]


def _content_and_text(actor: np.ndarray, etype: np.ndarray, tacct: np.ndarray,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Content (the target's video, or the actor's own for posts) and text fingerprints
    (comments and messages; some comments are common phrases); -1 where none."""
    content = np.full(len(etype), -1, np.int64)
    on = np.flatnonzero(_ON_CONTENT[etype])
    content[on] = tacct[on].astype(np.int64) * CONTENT_PER_ACCOUNT + content_k(rng, len(on))
    post = np.flatnonzero(etype == ET["post"])
    content[post] = actor[post].astype(np.int64) * CONTENT_PER_ACCOUNT + rng.integers(0, CONTENT_PER_ACCOUNT, len(post))
    text = np.full(len(etype), -1, np.int64)
    said = np.flatnonzero(_HAS_TEXT[etype])
    text[said] = unique_text(rng, len(said))
    common = said[(etype[said] == ET["comment"]) & (rng.random(len(said)) < 0.12)]
    text[common] = common_phrase(rng, len(common))
    return content, text


def _follow_backs(cfg, pop: Population, actor: np.ndarray, ts: np.ndarray, etype: np.ndarray,  # noqa: ANN001
                  tacct: np.ndarray, rng: np.random.Generator) -> E.Events:
    """Follow-backs: regular users often follow back (same community more), creators rarely."""
    fol = np.flatnonzero(etype == ET["follow"])
    tgt = tacct[fol]
    same = pop.community[tgt] == pop.community[actor[fol]]
    p_back = cfg.reciprocity * np.where(same, 1.6, 0.5) * np.where(_FOLLOWS_BACK[pop.role[tgt]], 1.0, 0.1)
    back = fol[rng.random(len(fol)) < p_back]
    return E.make(ts[back] + lognormal_ms(rng, 2 * 3600_000.0, 1.2, len(back)), tacct[back], ET["follow"], actor[back])


__all__ = ["organic_day", "hour_offsets_ms", "content_k", "common_phrase", "unique_text",
           "ROLE_CREATOR", "ROLE_LURKER"]
