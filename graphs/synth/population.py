"""The account population: roles, communities, time zones, ages, devices and IPs.

Accounts are indexed ``0..n-1`` internally (organic first, then campaign bots); the public
account id is a snowflake-style integer derived from the creation time, so ids carry the
account's age (as real ids do) but nothing about whether it is a bot.

Infrastructure is described per account and resolved per event by :func:`assign_infra`:
a primary and optional secondary device, a home IP shared by the household (Wi-Fi), a pool of
IPs used on mobile data (carrier NAT: thousands of strangers share a small pool; for bots
the pool is a datacenter range or residential proxies) and, for students, a campus pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

DAY_S = 86_400
SNOWFLAKE_EPOCH = 1_262_304_000  # 2010-01-01
ROLE_CREATOR, ROLE_REGULAR, ROLE_LURKER, ROLE_BOT = 0, 1, 2, 3
TZ_CHOICES = np.array([-8, -6, -5, -3, 0, 1, 2, 3, 5, 7, 8, 9], dtype=np.int64)
TZ_WEIGHTS = np.array([8, 4, 10, 8, 6, 10, 6, 5, 10, 8, 12, 6], dtype=float)

# Household size distribution (sizes 1..8).
_HH_P = np.array([0.34, 0.25, 0.18, 0.12, 0.06, 0.03, 0.015, 0.005])


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a fast deterministic hash of uint64 values (in place on one copy)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        z ^= z >> np.uint64(shift)
        z *= np.uint64(mult)
    z ^= z >> np.uint64(31)
    return z


class IpSpace:
    """Allocates dense IP indices in blocks and renders them as text at the end."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.n = 0
        self._blocks: list[pl.Series] = []
        # A few residential ISP /16s and cloud /16s; NAT pools and campuses get their own /24s.
        self.isp16 = rng.integers(1, 223, (40, 2)) * np.array([1, 1]) + np.array([0, 0])
        self.isp16[:, 0] = rng.choice(np.array([24, 50, 67, 71, 73, 76, 81, 86, 90, 98, 109, 174, 188, 212]), 40)
        self.cloud16 = np.column_stack([rng.choice(np.array([3, 13, 18, 34, 35, 52, 104, 138, 143, 157]), 12),
                                        rng.integers(0, 256, 12)])

    def _v4(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> int:
        frame = pl.DataFrame({"a": a, "b": b, "c": c, "d": d})
        self._blocks.append(frame.select(pl.format("{}.{}.{}.{}", "a", "b", "c", "d").alias("ip")).to_series())
        start = self.n
        self.n += len(a)
        return start

    def residential(self, k: int) -> int:
        """``k`` home addresses scattered over the ISP /16s (neighbours share /24s)."""
        isp = self.rng.integers(0, len(self.isp16), k)
        return self._v4(self.isp16[isp, 0], self.isp16[isp, 1], self.rng.integers(0, 256, k), self.rng.integers(1, 255, k))

    def block(self, k: int, cloud: bool = False) -> int:
        """``k`` consecutive addresses in one fresh range (a carrier NAT pool, a campus, a DC)."""
        src = self.cloud16 if cloud else self.isp16
        a, b = src[self.rng.integers(0, len(src))]
        c0 = int(self.rng.integers(0, 256 - (k // 250 + 1)))
        i = np.arange(k)
        return self._v4(np.full(k, a), np.full(k, b), c0 + i // 250, 1 + i % 250)

    def v6_block(self, k: int) -> int:
        """``k`` IPv6 addresses of one mobile carrier (distinct /64s)."""
        carrier = int(self.rng.integers(0x10, 0xFF))
        r = self.rng.integers(0, 1 << 16, (k, 3))
        self._blocks.append(pl.Series("ip", [f"2607:fb{carrier:02x}:{x:x}:{y:x}::{z:x}" for x, y, z in r.tolist()]))
        start = self.n
        self.n += k
        return start

    def table(self) -> pl.Series:
        return pl.concat(self._blocks) if self._blocks else pl.Series("ip", [], dtype=pl.String)


@dataclass
class Population:
    """Per-account arrays (index = internal account index)."""

    n_org: int
    start: int  # epoch seconds of the first day
    end: int
    role: np.ndarray
    community: np.ndarray
    tz: np.ndarray
    activity: np.ndarray
    popularity: np.ndarray
    created: np.ndarray
    household: np.ndarray
    dev1: np.ndarray
    dev2: np.ndarray
    p_dev2: np.ndarray
    dev_rot: np.ndarray
    home_ip: np.ndarray
    p_home: np.ndarray
    pool_off: np.ndarray
    pool_size: np.ndarray
    campus_off: np.ndarray
    campus_size: np.ndarray
    campaign: np.ndarray
    hn: np.ndarray
    ip_rotate: np.ndarray  # True: a new pool IP per request (proxy rotation)
    n_devices: int
    pools: list[np.ndarray]
    ip: IpSpace
    n_pool: int = 0
    # Filled by finalize():
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pool_table: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ip_table: pa.Array | None = None
    target_cdf: np.ndarray = field(default_factory=lambda: np.zeros(0))
    target_account: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    comm_order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    comm_lo: np.ndarray = field(default_factory=lambda: np.zeros(0))
    comm_width: np.ndarray = field(default_factory=lambda: np.zeros(0))
    top_creators: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n(self) -> int:
        return len(self.role)

    def add_pool(self, ips: np.ndarray) -> tuple[int, int]:
        """Register an IP pool (IP indices); returns (offset, size) into the pool table."""
        off = self.n_pool
        self.pools.append(np.asarray(ips, dtype=np.int64))
        self.n_pool += len(ips)
        return off, len(ips)

    def new_devices(self, k: int) -> np.ndarray:
        start = self.n_devices
        self.n_devices += k
        return np.arange(start, start + k, dtype=np.int64)

    def add_accounts(self, cols: dict[str, np.ndarray]) -> None:
        """Append accounts (indices ``n..n+k-1``); ``cols`` gives every per-account array."""
        k, first = len(cols["role"]), self.n
        for name, value in cols.items():
            setattr(self, name, np.concatenate([getattr(self, name), np.asarray(value).astype(getattr(self, name).dtype)]))
        assert self.n == first + k

    def finalize(self, rng: np.random.Generator) -> None:
        """Derive public ids, target-sampling tables and the IP text table (distinct addresses)."""
        # Snowflake-style ids: creation second × 1024 + random bits, made strictly unique.
        base = (self.created - SNOWFLAKE_EPOCH) * 1024 + rng.integers(0, 1024, self.n)
        order = np.argsort(base, kind="stable")
        b = base[order]
        steps = np.arange(self.n)
        uniq = np.maximum.accumulate(b - steps) + steps
        self.ids = np.empty(self.n, np.int64)
        self.ids[order] = uniq
        # IP indices point at distinct addresses (random home addresses can repeat), so the IP
        # text table has no duplicates and serves as a Parquet dictionary as it is.
        ips = pc.dictionary_encode(self.ip.table().to_arrow())
        distinct = ips.indices.to_numpy()
        self.ip_table = ips.dictionary
        self.pool_table = distinct[np.concatenate(self.pools)]
        self.home_ip = np.where(self.home_ip >= 0, distinct[np.maximum(self.home_ip, 0)], -1)
        # What is gathered per event, narrowed: device and IP indices as 32-bit (the
        # dtype of the event columns they fill), probabilities as float32, time zones as int8.
        for name, dtype in (("dev1", np.int32), ("dev2", np.int32), ("dev_rot", np.int32), ("home_ip", np.int32),
                            ("pool_off", np.int32), ("pool_size", np.int32), ("campus_off", np.int32),
                            ("campus_size", np.int32), ("p_dev2", np.float32), ("p_home", np.float32), ("tz", np.int8),
                            ("community", np.int32)):
            setattr(self, name, getattr(self, name).astype(dtype))
        pop = np.maximum(self.popularity, 1e-9)
        self.comm_order = np.argsort(self.community, kind="stable")
        # One table for both kinds of target draw: the global popularity CDF on [0, 1], then
        # the accounts grouped by community, their CDF shifted to (1, 2]; target_account names
        # the account of every entry.
        global_cdf = np.cumsum(pop) / pop.sum()
        comm_cdf = np.cumsum(pop[self.comm_order]) / pop.sum()
        global_cdf[-1] = comm_cdf[-1] = 1.0
        self.target_cdf = np.concatenate([global_cdf, 1.0 + comm_cdf])
        self.target_account = np.concatenate([np.arange(self.n), self.comm_order]).astype(np.int32)
        n_comm = int(self.community.max()) + 1
        sizes = np.bincount(self.community, minlength=n_comm)
        ends = np.cumsum(sizes)
        cdf0 = np.concatenate([[0.0], comm_cdf])
        self.comm_lo = 1.0 + cdf0[ends - sizes]
        self.comm_width = cdf0[ends] - cdf0[ends - sizes]
        k = max(10, self.n_org // 100)
        self.top_creators = np.argsort(-self.popularity[: self.n_org], kind="stable")[:k]

    # --- target sampling -------------------------------------------------------------
    def sample_targets(self, comm: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Accounts drawn by popularity, among all accounts where ``comm[i] < 0`` and within
        community ``comm[i]`` otherwise; ``u`` uniform in [0, 1)."""
        c = np.maximum(comm, 0)
        q = np.where(comm >= 0, self.comm_lo[c] + u * self.comm_width[c], u)
        return self.target_account[np.minimum(sorted_search(self.target_cdf, q), 2 * self.n - 1)]


def sorted_search(cdf: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cdf, q, side="right")`` for non-negative ``q``, several times faster for
    large random ``q``: NumPy's search is cache-friendly only for sorted keys, so sort, search and
    scatter back. Each query is packed with its position into one int64 (the query, scaled to an
    integer, in the high bits), so a plain SIMD sort stands in for ``argsort``; the scaling moves
    a query down by at most ``2**(bits(n) - 62)`` of the table's range (1e-12 at a million)."""
    n = len(q)
    if n < 4096:
        return np.searchsorted(cdf, q, side="right")
    shift = n.bit_length()
    scale = float(1 << (62 - shift)) / max(float(cdf[-1]), float(q.max()))
    key = (q * scale).astype(np.int64) << shift
    key |= np.arange(n, dtype=np.int64)
    key.sort()
    out = np.empty(n, np.int64)
    out[key & ((1 << shift) - 1)] = np.searchsorted(cdf, (key >> shift) * (1.0 / scale), side="right")
    return out


def organic_population(cfg, start: int, rng: np.random.Generator) -> Population:  # noqa: ANN001 - SynthConfig
    """The organic accounts with their households, devices, carriers and campuses."""
    n = cfg.accounts
    end = start + cfg.days * DAY_S
    # Communities: contiguous index ranges with Zipf-like sizes; each has a home time zone.
    n_comm = max(3, int(round(cfg.communities_per_1k * n / 1000)))
    csize = rng.pareto(1.3, n_comm) + 1.0
    cuts = np.floor(np.cumsum(csize) / csize.sum() * n).astype(np.int64)
    community = np.searchsorted(cuts, np.arange(n), side="right").astype(np.int64)
    community = np.minimum(community, n_comm - 1)
    comm_tz = rng.choice(TZ_CHOICES, n_comm, p=TZ_WEIGHTS / TZ_WEIGHTS.sum())
    tz = comm_tz[community]
    travellers = rng.random(n) < 0.1
    tz[travellers] = rng.choice(TZ_CHOICES, int(travellers.sum()), p=TZ_WEIGHTS / TZ_WEIGHTS.sum())

    u = rng.random(n)
    role = np.where(u < 0.03, ROLE_CREATOR, np.where(u < 0.60, ROLE_REGULAR, ROLE_LURKER)).astype(np.int8)
    mu = np.array([1.0, 0.0, -0.8])[role]
    activity = rng.lognormal(mu, 1.0)
    activity /= activity.mean()
    popularity = np.where(role == ROLE_CREATOR, 20.0 * (rng.pareto(1.1, n) + 1.0),
                          np.where(role == ROLE_REGULAR, rng.pareto(1.8, n) + 1.0, 0.3 * (rng.pareto(2.5, n) + 1.0)))

    age_days = np.clip(rng.lognormal(np.log(500.0), 0.9, n), 2.0, 4000.0)
    created = start - (age_days * DAY_S).astype(np.int64)
    newcomers = rng.random(n) < cfg.new_accounts_per_day * cfg.days
    created[newcomers] = start + rng.integers(0, cfg.days * DAY_S, int(newcomers.sum()))

    # Households: contiguous runs (same community), sharing a home IP and sometimes one device.
    hh_sizes = rng.choice(np.arange(1, 9), n // 2 + 8, p=_HH_P)
    hh_sizes = hh_sizes[: np.searchsorted(np.cumsum(hh_sizes), n) + 1]
    household = np.repeat(np.arange(len(hh_sizes)), hh_sizes)[:n].astype(np.int64)
    n_hh = int(household[-1]) + 1
    hh_size = np.bincount(household, minlength=n_hh)

    ipspace = IpSpace(rng)
    home_start = ipspace.residential(n_hh)
    has_wifi = rng.random(n_hh) < 0.85
    home_ip = np.where(has_wifi[household], home_start + household, -1)
    p_home = np.where(home_ip >= 0, rng.uniform(0.35, 0.8, n), 0.0)

    devices = np.arange(n, dtype=np.int64)
    first_member = np.searchsorted(household, np.arange(n_hh))
    shares_device = (rng.random(n_hh) < cfg.shared_device_household_share) & (hh_size >= 2)
    dev1 = np.where(shares_device[household], devices[first_member[household]], devices)
    has_dev2 = rng.random(n) < 0.3
    dev2 = np.where(has_dev2, n + np.arange(n), -1)
    p_dev2 = np.where(has_dev2, rng.uniform(0.05, 0.4, n), 0.0)

    pop = Population(
        n_org=n, start=start, end=end, role=role, community=community, tz=tz, activity=activity,
        popularity=popularity, created=created, household=household, dev1=dev1, dev2=dev2, p_dev2=p_dev2,
        dev_rot=np.full(n, -1, np.int64), home_ip=home_ip.astype(np.int64), p_home=p_home,
        pool_off=np.zeros(n, np.int64), pool_size=np.zeros(n, np.int64),
        campus_off=np.zeros(n, np.int64), campus_size=np.zeros(n, np.int64),
        campaign=np.full(n, -1, np.int32), hn=np.full(n, -1, np.int8), ip_rotate=np.zeros(n, bool),
        n_devices=2 * n, pools=[], ip=ipspace,
    )
    # Mobile carriers: CGNAT pools, ~40–120 subscribers per public IP; two carriers on IPv6.
    n_carriers = 8
    share = rng.dirichlet(np.full(n_carriers, 2.0))
    carrier = rng.choice(n_carriers, n, p=share)
    for c in range(n_carriers):
        subs = int((carrier == c).sum())
        k = max(2, subs // int(rng.integers(40, 120)))
        first = ipspace.v6_block(k) if c < 2 else ipspace.block(k)
        off, size = pop.add_pool(np.arange(first, first + k))
        pop.pool_off[carrier == c] = off
        pop.pool_size[carrier == c] = size
    # Campuses: whole communities of students (80% of the members) behind a handful of campus IPs.
    target = cfg.campus_share * n
    comm_size = np.bincount(community, minlength=n_comm)
    campus_off, campus_size = np.zeros(n_comm, np.int64), np.zeros(n_comm, np.int64)
    covered = 0.0
    for comm in rng.permutation(n_comm):
        if covered >= target:
            break
        k = int(comm_size[comm])
        if k < 20 or covered + k > 2 * target + 50:
            continue
        size = int(rng.integers(2, 7))
        first = ipspace.block(size)
        campus_off[comm], campus_size[comm] = pop.add_pool(np.arange(first, first + size))
        covered += 0.8 * k
    students = (campus_size[community] > 0) & (rng.random(n) < 0.8)
    pop.campus_off = np.where(students, campus_off[community], 0)
    pop.campus_size = np.where(students, campus_size[community], 0)
    # Hard negatives that come from infrastructure alone (priority: lower than behavioural ones).
    pop.hn[pop.campus_size > 0] = HN_CAMPUS
    big_shared = shares_device & (hh_size >= 3)
    pop.hn[big_shared[household]] = HN_HOUSEHOLD
    return pop


HN_VIRAL, HN_HOUSEHOLD, HN_FAN, HN_GIVEAWAY, HN_SPIKE, HN_CAMPUS = range(6)


_LOCAL = np.arange(-24, 48) % 24
"""Local hour of ``utc_hour + tz + 24`` (``tz`` within ±24): a lookup instead of a modulo."""
_HOME_FACTOR = np.where((_LOCAL >= 18) | (_LOCAL < 8), 1.4, 0.7).astype(np.float32)
"""By local hour: people are home (on Wi-Fi) more in the evening and at night."""
_CAMPUS_HOURS = (_LOCAL >= 9) & (_LOCAL < 18)


def assign_infra(pop: Population, actor: np.ndarray, ts_ms: np.ndarray, day: int, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Device and IP index for each event from the actor's profile (no Python loop); ``u`` is
    uniform in [0, 1) per event.

    The network (home Wi-Fi, campus, mobile pool) is chosen per (account, day, hour) with a hash
    so an account keeps one address for a while, as real sessions do.
    """
    a = actor
    today = np.where(pop.dev_rot >= 0, pop.dev_rot + day, pop.dev1)  # per account: rotating farms get a new device a day
    dev = np.where(u < pop.p_dev2[a], pop.dev2[a], today[a])  # p_dev2 is 0 without a second device

    hour = ((ts_ms - pop.start * 1000) // 3_600_000 % 24).astype(np.int32)  # UTC hour of day
    h = mix64(a.astype(np.uint64) * np.uint64(1_000_003) + (hour + day * 24).astype(np.uint64))
    hour += pop.tz[a]
    hour += 24  # index into the local-hour tables
    u_net = (h >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / (1 << 24))
    campus_size = pop.campus_size[a]
    on_campus = (campus_size > 0) & _CAMPUS_HOURS[hour] & (u_net < 0.7)
    at_home = ~on_campus & (u_net < pop.p_home[a] * _HOME_FACTOR[hour])  # p_home is 0 without home Wi-Fi
    # A 32-bit pick per event: the hour's hash, or a fresh draw for rotating proxies; the pool
    # slot is (pick × size) >> 32, the pick scaled to [0, size) without a division.
    h &= np.uint64(0xFFFFFFFF)
    rotating = pop.ip_rotate[a]
    h[rotating] = (u[rotating] * 4294967296.0).astype(np.uint64)
    size = np.where(on_campus, campus_size, pop.pool_size[a]).astype(np.uint64)
    slot = ((h * size) >> np.uint64(32)).astype(np.int32)
    slot += np.where(on_campus, pop.campus_off[a], pop.pool_off[a])
    return dev, np.where(at_home, pop.home_ip[a], pop.pool_table[slot])
