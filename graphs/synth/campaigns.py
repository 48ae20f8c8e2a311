"""Planted coordinated campaigns: their accounts, infrastructure and daily actions.

Every campaign is planned once (members appended to the population with their own devices,
IPs, ages and time zone) and then emits its actions one day at a time; the Python loop runs
over campaigns and bursts (tens), never over events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphs.synth import events as E
from graphs.synth.events import CONTENT_PER_ACCOUNT, ET
from graphs.synth.organic import content_k
from graphs.synth.population import DAY_S, ROLE_BOT, ROLE_CREATOR, ROLE_REGULAR, Population

# Share of an organic user's activity that every bot of a type also shows (× cfg.camouflage).
_CAMO = {"follow_farm": 0.3, "like_farm": 0.3, "comment_spam": 0.3, "message_blast": 0.15, "device_farm": 0.2,
         "proxy_pool": 0.4, "sleeper": 0.4, "camouflage": 1.2, "slow": 0.9}
_SIZE = {"device_farm": 1.5, "message_blast": 0.6, "camouflage": 0.8, "slow": 0.7}
_NEW_ACCOUNTS = ("follow_farm", "like_farm", "comment_spam", "message_blast", "device_farm", "proxy_pool")


@dataclass
class Campaign:
    cid: int
    ctype: str
    members: np.ndarray
    customers: np.ndarray
    start_day: int
    end_day: int
    tz: int
    spread_ms: float
    scheduled: bool
    wake_day: int = -1
    templates: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))

    def summary(self) -> dict[str, object]:
        return {"campaign_id": self.cid, "type": self.ctype, "accounts": int(len(self.members)),
                "customers": int(len(self.customers)), "days": [self.start_day, self.end_day],
                "wake_day": self.wake_day if self.ctype == "sleeper" else None, "spread_s": round(self.spread_ms / 1000),
                "scheduled": self.scheduled}


def plan_campaigns(cfg, pop: Population, rng: np.random.Generator) -> list[Campaign]:  # noqa: ANN001
    """Create every campaign's accounts (appended to ``pop`` in one go) and schedule."""
    out: list[Campaign] = []
    profiles: list[dict[str, np.ndarray]] = []
    next_index = pop.n
    organic = np.arange(pop.n_org)
    eligible_customers = organic[np.isin(pop.role[: pop.n_org], [ROLE_REGULAR, ROLE_CREATOR])
                                 & (pop.popularity[: pop.n_org] < np.quantile(pop.popularity[: pop.n_org], 0.97))]
    home_ips = pop.home_ip[: pop.n_org][pop.home_ip[: pop.n_org] >= 0]
    n_comm = int(pop.community.max()) + 1
    for cid in range(cfg.campaigns):
        ctype = cfg.campaign_mix[cid % len(cfg.campaign_mix)]
        size = max(4, int(round(cfg.bots_per_campaign * rng.lognormal(0.0, 0.35) * _SIZE.get(ctype, 1.0))))
        days = cfg.days
        if ctype in ("slow", "camouflage"):
            d0, d1 = 0, days
        elif ctype == "sleeper":
            d0 = int(rng.integers(days // 2, days)) if days > 1 else 0
            d1 = days
        else:
            d0 = int(rng.integers(0, max(1, days - 1)))
            d1 = min(days, d0 + int(rng.integers(2, max(3, days + 1))))
        tz = int(rng.choice(np.array([-5, 0, 3, 5, 7, 8])))
        first_active = pop.start + d0 * DAY_S
        cols = _bot_profile(cfg, pop, ctype, size, tz, first_active, home_ips, n_comm, rng)
        cols["campaign"] = np.full(size, cid)
        profiles.append(cols)
        members = np.arange(next_index, next_index + size)
        next_index += size
        n_cust = 3 + 2 * days
        customers = rng.choice(eligible_customers, min(n_cust, len(eligible_customers)), replace=False)
        spread = cfg.lockstep_spread_s * 1000.0 * {"device_farm": 2.0, "proxy_pool": 12.0, "camouflage": 4.0,
                                                   "comment_spam": 2.0}.get(ctype, 1.0)
        templates = rng.integers(1 << 40, 1 << 60, (4, 12)) if ctype in ("comment_spam", "message_blast", "sleeper") else np.zeros((0, 0), np.int64)
        out.append(Campaign(cid, ctype, members, customers, d0, d1, tz, spread, bool(rng.random() < 0.5),
                            wake_day=d0 if ctype == "sleeper" else -1, templates=templates))
    if profiles:
        pop.add_accounts({name: np.concatenate([p[name] for p in profiles]) for name in profiles[0]})
    return out


def _bot_profile(cfg, pop: Population, ctype: str, k: int, tz: int, first_active: int, home_ips: np.ndarray,  # noqa: ANN001
                 n_comm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-account arrays for ``k`` bots of one campaign."""
    # Age: farms register accounts in batches shortly before use; sleepers are old; camouflage
    # and slow campaigns buy aged accounts.
    if ctype in _NEW_ACCOUNTS:
        batch = first_active - int(rng.exponential(6 * DAY_S)) - 3600
        in_batch = rng.random(k) < 0.7
        created = np.where(in_batch, batch + (rng.exponential(900.0, k)).astype(np.int64),
                           first_active - (rng.uniform(1, 90, k) * DAY_S).astype(np.int64))
        created = np.minimum(created, first_active - 60)
    elif ctype == "sleeper":
        created = pop.start - (rng.uniform(365, 1500, k) * DAY_S).astype(np.int64)
    elif ctype == "camouflage":
        created = pop.start - (rng.uniform(60, 900, k) * DAY_S).astype(np.int64)
    else:
        created = pop.start - (rng.uniform(30, 600, k) * DAY_S).astype(np.int64)

    same_tz = rng.random(k) < (0.2 if ctype in ("camouflage", "slow") else 0.85)
    org_tz = pop.tz[rng.integers(0, pop.n_org, k)]
    donors = rng.integers(0, pop.n_org, k)  # organic accounts whose carrier the bot appears on
    cols: dict[str, np.ndarray] = {
        "role": np.full(k, ROLE_BOT), "community": rng.integers(0, n_comm, k), "tz": np.where(same_tz, tz, org_tz),
        "activity": _CAMO[ctype] * cfg.camouflage * rng.lognormal(0.0, 0.5, k),
        "popularity": np.full(k, 0.05), "created": created, "household": np.full(k, -1),
        "dev1": np.zeros(k), "dev2": np.full(k, -1), "p_dev2": np.zeros(k), "dev_rot": np.full(k, -1),
        "home_ip": np.full(k, -1), "p_home": np.zeros(k), "pool_off": pop.pool_off[donors],
        "pool_size": pop.pool_size[donors], "campus_off": np.zeros(k), "campus_size": np.zeros(k),
        "campaign": np.full(k, -1), "hn": np.full(k, -1), "ip_rotate": np.zeros(k, bool),
    }
    if ctype == "device_farm":
        n_dev = max(1, int(round(k / cfg.accounts_per_farm_device)))
        cols["dev1"] = pop.new_devices(n_dev)[rng.integers(0, n_dev, k)]
        first = pop.ip.block(max(1, n_dev))  # the farm's own uplink(s)
        off, size = pop.add_pool(np.arange(first, first + max(1, n_dev)))
        cols["pool_off"], cols["pool_size"] = np.full(k, off), np.full(k, size)
    elif ctype in ("follow_farm", "like_farm", "comment_spam", "message_blast"):
        # Phone farms: 2–4 accounts per handset, datacenter or mobile-proxy exits.
        n_dev = max(1, k // 3)
        cols["dev1"] = pop.new_devices(n_dev)[rng.integers(0, n_dev, k)]
        n_ip = max(2, k // 8)
        first = pop.ip.block(n_ip, cloud=rng.random() < 0.6)
        off, size = pop.add_pool(np.arange(first, first + n_ip))
        cols["pool_off"], cols["pool_size"] = np.full(k, off), np.full(k, size)
    elif ctype == "proxy_pool":
        # Residential proxies: real households' IPs, a new one per request; a fresh device each day.
        off, size = pop.add_pool(rng.choice(home_ips, min(len(home_ips), 4 * k), replace=False))
        cols["pool_off"], cols["pool_size"] = np.full(k, off), np.full(k, size)
        cols["ip_rotate"] = np.ones(k, bool)
        cols["dev1"] = pop.new_devices(k)
        cols["dev_rot"] = pop.new_devices(k * cfg.days)[:: cfg.days]
    else:
        # Sleepers, camouflage and slow campaigns: one clean device and a home-like IP each.
        cols["dev1"] = pop.new_devices(k)
        first = pop.ip.residential(k)
        cols["home_ip"] = first + np.arange(k)
        cols["p_home"] = rng.uniform(0.4, 0.8, k)
        has2 = rng.random(k) < 0.25
        cols["dev2"] = np.where(has2, pop.new_devices(k), -1)
        cols["p_dev2"] = np.where(has2, 0.2, 0.0)
    return cols


def _burst_times(rng: np.random.Generator, k: int, t0: float, spread_ms: float, scheduled: bool) -> np.ndarray:
    """Times of a lockstep burst: a scheduler ticking through the accounts, or a jittered swarm."""
    if scheduled:
        step = spread_ms / max(k, 1)
        return (t0 + rng.permutation(k) * step + rng.random(k) * 0.3 * step).astype(np.int64)
    return (t0 + rng.gamma(2.0, spread_ms / 4.0, k)).astype(np.int64)


def _work_time(rng: np.random.Generator, day_ms: int, tz: int) -> int:
    """A burst start in the operator's working hours (local 8:00–23:00)."""
    local = rng.uniform(8 * 3600, 23 * 3600)
    return int(day_ms + ((local - tz * 3600) % DAY_S) * 1000)


def _template_text(rng: np.random.Generator, c: Campaign, k: int) -> np.ndarray:
    """Near-duplicate fingerprints: half the messages hash to a template, half to one of its variants."""
    t = rng.integers(0, c.templates.shape[0], k)
    v = np.where(rng.random(k) < 0.5, 0, rng.integers(1, c.templates.shape[1], k))
    return c.templates[t, v]


def campaign_day(cfg, pop: Population, c: Campaign, day: int, rng: np.random.Generator) -> list[E.Events]:  # noqa: ANN001
    """The campaign's coordinated actions on ``day`` as event batches (its organic-looking cover
    comes from the organic generator)."""
    if not c.start_day <= day < c.end_day:
        return []
    day_ms = (pop.start + day * DAY_S) * 1000
    parts: list[E.Events] = []
    m = c.members
    cust = c.customers

    def customer(i: int) -> int:
        return int(cust[(day * 5 + i) % len(cust)])

    def burst(i: int, participation: float, spread: float, t0: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        part = m[rng.random(len(m)) < participation]
        start = _work_time(rng, day_ms, c.tz) if t0 is None else t0
        return part, _burst_times(rng, len(part), start, spread, c.scheduled)

    t = c.ctype
    if t == "follow_farm":
        for b in range(1 + int(rng.poisson(1.5))):
            who, ts = burst(b, rng.uniform(0.5, 0.9), c.spread_ms)
            tgt = customer(b)
            parts.append(E.make(ts, who, ET["follow"], tgt, abuse=True))
            liked = rng.random(len(who)) < 0.4
            parts.append(E.make(ts[liked] + rng.integers(2_000, 60_000, int(liked.sum())), who[liked], ET["like"], tgt,
                                tgt * CONTENT_PER_ACCOUNT + content_k(rng, int(liked.sum())), abuse=True))
            churn = rng.random(len(who)) < 0.25  # follow/unfollow churn a few days later
            parts.append(E.make(ts[churn] + (rng.uniform(1, 3, int(churn.sum())) * DAY_S * 1000).astype(np.int64),
                                who[churn], ET["unfollow"], tgt, abuse=True))
    elif t in ("like_farm", "device_farm", "proxy_pool"):
        n_b = 1 + int(rng.poisson(2.0 if t == "like_farm" else 1.5))
        for b in range(n_b):
            part_p = {"like_farm": (0.5, 0.9), "device_farm": (0.4, 0.7), "proxy_pool": (0.3, 0.6)}[t]
            who, ts = burst(b, rng.uniform(*part_p), c.spread_ms)
            tgt = customer(b)
            vid = tgt * CONTENT_PER_ACCOUNT + int(rng.integers(0, 4))
            if t != "like_farm" and rng.random() < 0.5:
                parts.append(E.make(ts, who, ET["follow"], tgt, abuse=True))
                continue
            parts.append(E.make(ts, who, ET["view"], tgt, vid, abuse=True))
            liked = rng.random(len(who)) < 0.85
            k = int(liked.sum())
            parts.append(E.make(ts[liked] + rng.integers(3_000, 40_000, k), who[liked], ET["like"], tgt, vid, abuse=True))
            shared = rng.random(len(who)) < 0.1
            parts.append(E.make(ts[shared] + rng.integers(5_000, 90_000, int(shared.sum())), who[shared], ET["share"],
                                tgt, vid, abuse=True))
    elif t == "comment_spam":
        # Each bot comments on many popular videos through its shift (little lockstep, heavy text reuse)...
        per = rng.poisson(8.0, len(m))
        who = np.repeat(m, per)
        k = len(who)
        shift = _work_time(rng, day_ms, c.tz)
        ts = shift + (rng.random(k) * 6 * 3600 * 1000).astype(np.int64)
        tgt = pop.top_creators[rng.integers(0, len(pop.top_creators), k)]
        parts.append(E.make(ts, who, ET["comment"], tgt, tgt * CONTENT_PER_ACCOUNT + content_k(rng, k),
                            _template_text(rng, c, k), abuse=True))
        # ...plus one coordinated pile-on under a trending video.
        who, ts = burst(0, rng.uniform(0.4, 0.8), c.spread_ms)
        tgt = int(pop.top_creators[rng.integers(0, len(pop.top_creators))])
        parts.append(E.make(ts, who, ET["comment"], tgt, tgt * CONTENT_PER_ACCOUNT, _template_text(rng, c, len(who)), abuse=True))
    elif t == "message_blast":
        per = rng.poisson(cfg.messages_per_bot_day, len(m))
        who = np.repeat(m, per)
        k = len(who)
        local = rng.uniform(8 * 3600, 23 * 3600, len(m))
        start = np.repeat((day_ms + ((local - c.tz * 3600) % DAY_S) * 1000).astype(np.int64), per)
        gaps = rng.lognormal(np.log(15_000.0), 0.6, k)
        cs = np.cumsum(gaps)
        base = np.concatenate([[0.0], cs])[np.cumsum(per) - per]
        offs = cs - np.repeat(base, per)
        tgt = rng.integers(0, pop.n_org, k)  # strangers, not followers
        ok = pop.created[tgt] * 1000 <= start + offs.astype(np.int64)
        parts.append(E.make((start + offs.astype(np.int64))[ok], who[ok], ET["message"], tgt[ok], -1,
                            _template_text(rng, c, k)[ok], abuse=True))
    elif t == "sleeper":
        if day == c.wake_day:
            for b in range(3):
                who, ts = burst(b, 0.9, c.spread_ms, t0=_work_time(rng, day_ms, c.tz) if b == 0 else None)
                tgt = customer(b)
                vid = tgt * CONTENT_PER_ACCOUNT
                parts.append(E.make(ts, who, ET["follow"], tgt, abuse=True))
                parts.append(E.make(ts + rng.integers(2_000, 30_000, len(who)), who, ET["like"], tgt, vid, abuse=True))
                com = rng.random(len(who)) < 0.5
                parts.append(E.make(ts[com] + rng.integers(10_000, 90_000, int(com.sum())), who[com], ET["comment"], tgt, vid,
                                    _template_text(rng, c, int(com.sum())), abuse=True))
        else:
            who, ts = burst(0, 0.7, c.spread_ms)
            parts.append(E.make(ts, who, ET["follow"], customer(day), abuse=True))
    elif t == "camouflage":
        for b in range(1 + int(rng.poisson(1.0))):
            who, ts = burst(b, 0.25, c.spread_ms)
            tgt = customer(b)
            parts.append(E.make(ts, who, ET["like"], tgt, tgt * CONTENT_PER_ACCOUNT + int(rng.integers(0, 4)), abuse=True))
        # Cover: following popular creators like everyone else does.
        per = rng.poisson(1.5, len(m))
        who = np.repeat(m, per)
        tgt = pop.top_creators[rng.integers(0, len(pop.top_creators), len(who))]
        parts.append(E.make(day_ms + rng.integers(0, DAY_S * 1000, len(who)), who, ET["follow"], tgt))
    elif t == "slow":
        # Each bot acts once on the day's customer at a random time: no burst, same target set over days.
        who = m[rng.random(len(m)) < 0.6]
        tgt = customer(0)
        ts = day_ms + rng.integers(0, DAY_S * 1000, len(who))
        like = rng.random(len(who)) < 0.5
        parts.append(E.make(ts, who, np.where(like, ET["like"], ET["follow"]), tgt,
                            np.where(like, tgt * CONTENT_PER_ACCOUNT + int(rng.integers(0, 4)), -1), abuse=True))
    return parts
