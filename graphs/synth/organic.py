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
_TYPE_CODE = np.array([ET[t] for t in _TYPES], dtype=np.int8)
# Probability that the target comes from the actor's own community, by event code.
_P_COMM = np.full(len(ET), 0.45)
_P_COMM[ET["message"]] = 0.85
_P_COMM[ET["follow"]] = 0.5
_P_COMM[ET["report"]] = 0.1
_CONTENT_TYPES = np.array([ET["view"], ET["like"], ET["comment"], ET["share"], ET["report"]])
COMMON_PHRASES = 400
"""Organic comments drawn from a shared vocabulary ("lol", "🔥🔥", "first") hash alike."""


def common_phrase(rng: np.random.Generator, k: int) -> np.ndarray:
    return 1_000 + np.minimum(rng.zipf(1.4, k), COMMON_PHRASES)


def unique_text(rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.integers(1 << 40, 1 << 60, k)


def hour_offsets_ms(rng: np.random.Generator, k: int, weekend: bool, tz: np.ndarray) -> np.ndarray:
    """Milliseconds after UTC midnight for events at local hours drawn from the daily rhythm."""
    hour = np.searchsorted(HOUR_CDF[weekend], rng.random(k), side="right")
    local = hour * 3600.0 + rng.random(k) * 3600.0
    return (((local - tz * 3600.0) % DAY_S) * 1000).astype(np.int64)


def content_k(rng: np.random.Generator, k: int) -> np.ndarray:
    """Which of an owner's videos: recent ones are far more popular."""
    return np.floor(CONTENT_PER_ACCOUNT * rng.random(k) ** 3).astype(np.int64)


def organic_day(cfg, pop: Population, day: int, weight: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:  # noqa: ANN001
    """One day of organic sessions for every account with a positive weight."""
    day_ms = (pop.start + day * DAY_S) * 1000
    weekend = bool((np.datetime64(pop.start + day * DAY_S, "s").astype("datetime64[D]").astype(np.int64) + 3) % 7 >= 5)
    mean_len = 4.0
    total = float(weight.sum())
    if total <= 0:
        return E.empty()
    rate = cfg.events_per_account_day / mean_len * (1.1 if weekend else 1.0)
    sess_actor = np.repeat(np.arange(pop.n), rng.poisson(weight * rate))
    n_sess = len(sess_actor)
    length = rng.geometric(1.0 / mean_len, n_sess)
    start = day_ms + hour_offsets_ms(rng, n_sess, weekend, pop.tz[sess_actor])
    m = int(length.sum())
    actor = np.repeat(sess_actor, length)
    gaps = rng.lognormal(np.log(25_000.0), 1.1, m)
    cs = np.cumsum(gaps)
    first = np.cumsum(length) - length
    ts = np.repeat(start, length) + (cs - np.repeat(cs[first] - gaps[first], length)).astype(np.int64)
    keep = ts >= pop.created[actor] * 1000
    actor, ts = actor[keep], ts[keep]
    m = len(actor)

    role = pop.role[actor]
    u = rng.random(m)
    code = np.zeros(m, np.int64)
    for r in range(len(_MIX_CUM)):
        sel = role == r
        code[sel] = np.searchsorted(_MIX_CUM[r], u[sel], side="right")
    etype = _TYPE_CODE[np.minimum(code, len(_TYPES) - 1)]
    needs_target = (etype != ET["login"]) & (etype != ET["post"])
    u = rng.random(m)
    in_comm = (rng.random(m) < _P_COMM[etype]) & (role != ROLE_BOT)
    tacct = np.full(m, -1, np.int64)
    sel = needs_target & in_comm
    tacct[sel] = pop.sample_community(pop.community[actor[sel]], u[sel])
    sel = needs_target & ~in_comm
    tacct[sel] = pop.sample_global(u[sel])
    ok = ~needs_target | ((tacct != actor) & (pop.created[np.maximum(tacct, 0)] * 1000 <= ts))
    actor, ts, etype, tacct, role = actor[ok], ts[ok], etype[ok], tacct[ok], role[ok]
    m = len(actor)

    is_content = np.isin(etype, _CONTENT_TYPES)
    content = np.where(is_content, tacct * CONTENT_PER_ACCOUNT + content_k(rng, m), -1)
    is_post = etype == ET["post"]
    content = np.where(is_post, actor * CONTENT_PER_ACCOUNT + rng.integers(0, CONTENT_PER_ACCOUNT, m), content)
    is_text = (etype == ET["comment"]) | (etype == ET["message"])
    common = (etype == ET["comment"]) & (rng.random(m) < 0.12)
    text = np.where(is_text, unique_text(rng, m), -1)
    text[common] = common_phrase(rng, int(common.sum()))
    base = E.make(ts, actor, etype, tacct, content, text)

    # Follow-backs: regular users often follow back (same community more), creators rarely.
    fol = np.flatnonzero(etype == ET["follow"])
    tgt = tacct[fol]
    same = pop.community[tgt] == pop.community[actor[fol]]
    p_back = cfg.reciprocity * np.where(same, 1.6, 0.5) * np.where(np.isin(pop.role[tgt], [ROLE_REGULAR, ROLE_LURKER]), 1.0, 0.1)
    back = fol[rng.random(len(fol)) < p_back]
    back_ts = ts[back] + (rng.lognormal(np.log(2 * 3600.0), 1.2, len(back)) * 1000).astype(np.int64)
    backs = E.make(back_ts, tacct[back], ET["follow"], actor[back])
    return E.concat([base, backs])


__all__ = ["organic_day", "hour_offsets_ms", "content_k", "common_phrase", "unique_text",
           "ROLE_CREATOR", "ROLE_LURKER"]
