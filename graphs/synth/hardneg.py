"""Hard negatives: innocent behaviour that looks like coordination on a single signal.

Households and campuses come from the infrastructure (see :mod:`graphs.synth.population`);
the behavioural ones are planned here with their participants and reaction times fixed up
front, and emitted on their day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphs.synth import events as E
from graphs.synth.events import CONTENT_PER_ACCOUNT, ET
from graphs.synth.organic import common_phrase, unique_text
from graphs.synth.population import DAY_S, HN_FAN, HN_GIVEAWAY, HN_SPIKE, HN_VIRAL, ROLE_CREATOR, Population


@dataclass
class Episode:
    kind: str
    day: int  # first day (fan communities: every day)
    creator: int
    members: np.ndarray
    delay_ms: np.ndarray  # per member reaction delay after t0 (viral, giveaway, spike)
    t0_ms: int
    text: int = -1

    def summary(self) -> dict[str, object]:
        return {"type": self.kind, "day": self.day, "creator_index": int(self.creator), "accounts": int(len(self.members))}


def _by_activity(pop: Population, k: int, rng: np.random.Generator, exclude: np.ndarray | None = None) -> np.ndarray:
    """``k`` distinct organic accounts, more active ones more likely."""
    w = pop.activity[: pop.n_org].copy()
    if exclude is not None:
        w[exclude] = 0.0
    k = min(k, int((w > 0).sum()))
    return rng.choice(pop.n_org, k, replace=False, p=w / w.sum()) if k else np.zeros(0, np.int64)


def plan_hard_negatives(cfg, pop: Population, rng: np.random.Generator) -> list[Episode]:  # noqa: ANN001
    """Pick participants and times; mark ``pop.hn``; make spike newcomers sign up just before."""
    n = pop.n_org
    eps: list[Episode] = []
    creators = np.flatnonzero(pop.role[:n] == ROLE_CREATOR)
    pop_rank = creators[np.argsort(-pop.popularity[creators], kind="stable")]

    def t0(day: int) -> int:
        return (pop.start + day * DAY_S) * 1000 + int(rng.uniform(2, 20) * 3600 * 1000)

    n_viral = int(rng.poisson(cfg.viral_per_day * cfg.days))
    n_viral = max(n_viral, 1) if cfg.viral_per_day > 0 else 0
    for _ in range(n_viral):
        day = int(rng.integers(0, cfg.days))
        creator = int(rng.integers(0, n))  # anyone's video can blow up
        who = _by_activity(pop, max(5, int(cfg.viral_size * n)), rng, exclude=np.array([creator]))
        early = rng.random(len(who)) < 0.35
        delay = np.where(early, rng.exponential(12 * 60_000.0, len(who)), rng.exponential(4 * 3600_000.0, len(who)))
        eps.append(Episode("viral_burst", day, creator, who, delay.astype(np.int64), t0(day)))
    for _ in range(cfg.creator_spikes):
        day = int(rng.integers(0, cfg.days))
        creator = int(pop_rank[int(rng.integers(len(pop_rank) // 10, len(pop_rank)))]) if len(pop_rank) > 10 else int(rng.integers(0, n))
        who = _by_activity(pop, max(5, int(cfg.spike_size * n)), rng, exclude=np.array([creator]))
        delay = rng.exponential(20 * 60_000.0, len(who)).astype(np.int64)
        start = t0(day)
        # Some followers sign up just to follow (TV appearance, featured page): brand-new accounts.
        # (A creator, with an audience of its own, is never one of them.)
        fresh = (rng.random(len(who)) < cfg.spike_new_account_share) & (pop.role[who] != ROLE_CREATOR)
        signup = start + delay[fresh] - (rng.lognormal(np.log(400.0), 0.8, int(fresh.sum())) * 1000).astype(np.int64)
        pop.created[who[fresh]] = np.maximum(signup // 1000, pop.start)
        eps.append(Episode("creator_spike", day, creator, who, delay, start))
    for _ in range(cfg.giveaways):
        day = int(rng.integers(0, cfg.days))
        creator = int(pop_rank[int(rng.integers(0, max(1, len(pop_rank) // 20)))]) if len(pop_rank) else 0
        k = max(5, int(cfg.giveaway_size * n))
        comm = np.flatnonzero(pop.community[:n] == pop.community[creator])
        local = rng.choice(comm, min(len(comm), k // 2), replace=False)
        who = np.unique(np.concatenate([local, _by_activity(pop, k - len(local), rng, exclude=local)]))
        who = who[who != creator]
        delay = rng.exponential(3 * 3600_000.0, len(who)).astype(np.int64)
        eps.append(Episode("giveaway", day, creator, who, delay, t0(day), text=int(rng.integers(1 << 40, 1 << 60))))
    comm_sizes = np.bincount(pop.community[:n])
    for _ in range(cfg.fan_communities):
        big = np.flatnonzero(comm_sizes >= 30)
        comm = int(rng.choice(big)) if len(big) else int(np.argmax(comm_sizes))
        members = np.flatnonzero(pop.community[:n] == comm)
        star_pool = members[pop.role[members] == ROLE_CREATOR]
        star = int(star_pool[np.argmax(pop.popularity[star_pool])]) if len(star_pool) else int(members[0])
        pop.role[star] = ROLE_CREATOR
        fans = rng.choice(members[members != star], min(cfg.fan_size, len(members) - 1), replace=False)
        pop.created[fans] = np.minimum(pop.created[fans], pop.start - 30 * DAY_S)  # a fandom is not born this week
        eps.append(Episode("fan_community", 0, star, fans, np.zeros(0, np.int64), 0, text=int(rng.integers(1 << 40, 1 << 60))))
    # Mark (later kinds win where an account is in several).
    code = {"viral_burst": HN_VIRAL, "creator_spike": HN_SPIKE, "giveaway": HN_GIVEAWAY, "fan_community": HN_FAN}
    for kind in ("viral_burst", "creator_spike", "giveaway", "fan_community"):
        for ep in eps:
            if ep.kind != kind:
                continue
            marked = ep.members if kind != "viral_burst" else ep.members[ep.delay_ms < 30 * 60_000]
            pop.hn[marked] = code[kind]
            pop.hn[ep.creator] = code[kind]
    return eps


def hard_negative_day(pop: Population, eps: list[Episode], day: int, rng: np.random.Generator) -> list[E.Events]:
    """The hard negatives' special activity on ``day`` as event batches (their ordinary activity is organic)."""
    parts: list[E.Events] = []
    day_ms = (pop.start + day * DAY_S) * 1000
    for ep in eps:
        if ep.kind == "fan_community":
            parts.extend(_fan_day(pop, ep, day_ms, rng))
            continue
        if ep.day != day:
            continue
        who, ts, c = ep.members, ep.t0_ms + ep.delay_ms, ep.creator
        k = len(who)
        vid = c * CONTENT_PER_ACCOUNT + int(rng.integers(0, 4))
        alive = pop.created[who] * 1000 <= ts
        who, ts, k = who[alive], ts[alive], int(alive.sum())
        parts.append(E.make(np.array([ep.t0_ms - 60_000]), np.array([c]), ET["post"], -1, vid))
        if ep.kind == "viral_burst":
            parts.append(E.make(ts, who, ET["view"], c, vid))
            for et, p, lag in ((ET["like"], 0.6, 20_000), (ET["share"], 0.12, 60_000), (ET["follow"], 0.08, 90_000)):
                s = rng.random(k) < p
                parts.append(E.make(ts[s] + rng.integers(1_000, lag, int(s.sum())), who[s], et, c,
                                    vid if et != ET["follow"] else -1))
            s = rng.random(k) < 0.05
            parts.append(E.make(ts[s] + rng.integers(5_000, 120_000, int(s.sum())), who[s], ET["comment"], c, vid,
                                np.where(rng.random(int(s.sum())) < 0.4, common_phrase(rng, int(s.sum())), unique_text(rng, int(s.sum())))))
        elif ep.kind == "creator_spike":
            parts.append(E.make(ts, who, ET["follow"], c))
            s = rng.random(k) < 0.3
            parts.append(E.make(ts[s] + rng.integers(5_000, 300_000, int(s.sum())), who[s], ET["like"], c, vid))
        elif ep.kind == "giveaway":
            # "Follow + like + comment 'I want it 🎁' to enter": one phrase, thousands of people.
            parts.append(E.make(ts, who, ET["view"], c, vid))
            text = np.where(rng.random(k) < 0.8, ep.text, ep.text + rng.integers(1, 4, k))
            parts.append(E.make(ts + rng.integers(10_000, 120_000, k), who, ET["comment"], c, vid, text))
            s = rng.random(k) < 0.8
            parts.append(E.make(ts[s] + rng.integers(5_000, 60_000, int(s.sum())), who[s], ET["follow"], c))
            s = rng.random(k) < 0.9
            parts.append(E.make(ts[s] + rng.integers(2_000, 30_000, int(s.sum())), who[s], ET["like"], c, vid))
    return parts


def _fan_day(pop: Population, ep: Episode, day_ms: int, rng: np.random.Generator) -> list[E.Events]:
    """The star posts 2–3 times; fans pile on within minutes; fans interact densely with each other."""
    parts: list[E.Events] = []
    fans, star = ep.members, ep.creator
    tz = int(pop.tz[star])
    for _ in range(2 + int(rng.integers(0, 2))):
        local = rng.uniform(10 * 3600, 22 * 3600)
        t0 = int(day_ms + ((local - tz * 3600) % DAY_S) * 1000)
        vid = star * CONTENT_PER_ACCOUNT + int(rng.integers(0, CONTENT_PER_ACCOUNT))
        parts.append(E.make(np.array([t0]), np.array([star]), ET["post"], -1, vid))
        who = fans[rng.random(len(fans)) < rng.uniform(0.4, 0.75)]
        ts = t0 + (rng.lognormal(np.log(180.0), 1.0, len(who)) * 1000).astype(np.int64)
        parts.append(E.make(ts, who, ET["view"], star, vid))
        s = rng.random(len(who)) < 0.85
        parts.append(E.make(ts[s] + rng.integers(2_000, 30_000, int(s.sum())), who[s], ET["like"], star, vid))
        s = rng.random(len(who)) < 0.25
        k = int(s.sum())
        parts.append(E.make(ts[s] + rng.integers(10_000, 120_000, k), who[s], ET["comment"], star, vid,
                            np.where(rng.random(k) < 0.3, ep.text, unique_text(rng, k))))
    # Dense mutual interaction among fans (likes, comments, messages, follows that get followed back).
    per = rng.poisson(3.0, len(fans))
    who = np.repeat(fans, per)
    other = fans[rng.integers(0, len(fans), len(who))]
    ok = who != other
    who, other = who[ok], other[ok]
    k = len(who)
    ts = day_ms + rng.integers(0, DAY_S * 1000, k)
    kind = rng.choice(np.array([ET["like"], ET["comment"], ET["message"], ET["follow"]]), k, p=[0.5, 0.2, 0.2, 0.1])
    content = np.where(np.isin(kind, [ET["like"], ET["comment"]]), other * CONTENT_PER_ACCOUNT + rng.integers(0, 8, k), -1)
    text = np.where(np.isin(kind, [ET["comment"], ET["message"]]), unique_text(rng, k), -1)
    parts.append(E.make(ts, who, kind, other, content, text))
    f = kind == ET["follow"]
    back = rng.random(k) < 0.7
    parts.append(E.make(ts[f & back] + rng.integers(60_000, 6 * 3600_000, int((f & back).sum())), other[f & back], ET["follow"], who[f & back]))
    return parts
