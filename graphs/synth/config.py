"""Knobs of the synthetic event-log generator."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, fields

from ringwatch.errors import ConfigError

CAMPAIGN_TYPES = (
    "follow_farm", "like_farm", "comment_spam", "message_blast", "device_farm",
    "proxy_pool", "sleeper", "camouflage", "slow",
)
"""Planted coordinated campaign types (``ground_truth.campaign_type``)."""

HARD_NEGATIVE_TYPES = ("viral_burst", "household", "fan_community", "giveaway", "creator_spike", "campus")
"""Innocent behaviour that looks suspicious on single signals (``ground_truth.hard_negative_type``)."""

EVENT_TYPES = ("view", "like", "comment", "share", "follow", "unfollow", "message", "post", "login", "report", "signup")
"""Event types the generator emits (index = internal code)."""
MAX_ACCOUNT_DAYS = 100_000_000
"""A sanity bound on accounts × days (5M accounts over 20 days), far above the benchmark's 10M
events: past it a typo would run out of memory instead of being told so."""


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator. Defaults are small (the demo's size); ``accounts=100_000`` is the
    issue's full-size preset.

    Population:
        accounts: Organic accounts (campaign bots come on top).
        days: Days of events.
        events_per_account_day: Mean organic events per (active-weight) account per day.
        communities_per_1k: Interest/regional communities per 1,000 accounts.
        new_accounts_per_day: Share of the population signing up per day of the log.
        reciprocity: Probability that a follow between regular users is followed back.

    Campaigns:
        campaigns: Number of planted campaigns.
        campaign_mix: Campaign types to rotate through (default: all of ``CAMPAIGN_TYPES``).
        bots_per_campaign: Median accounts per campaign (sizes are log-normal around it).
        accounts_per_farm_device: Mean accounts sharing one device in a device farm.
        lockstep_spread_s: Typical spread of a lockstep burst (follow/like farms); other types
            scale it (device farms ×2, proxy pools ×12, slow campaigns span the whole day).
        camouflage: Multiplier of the organic-looking activity every bot also has (0 = none).
        messages_per_bot_day: Mean scam messages per message-blast bot per active day.

    Hard negatives:
        fan_communities, fan_size: Dense fan groups reacting within minutes to a star's posts.
        viral_per_day, viral_size: Viral videos per day and the share of accounts engaging.
        giveaways, giveaway_size: Giveaways (same comment text) and the share of accounts entering.
        creator_spikes, spike_size: Sudden follower spikes and the share of accounts following.
        spike_new_account_share: Share of spike followers who sign up just to follow.
        shared_device_household_share: Share of multi-person households sharing one device.
        campus_share: Share of accounts that are students on a campus network.

    Labels:
        label_fraction: Share of abusive accounts with a (possibly wrong) label.
        labeled_campaign_fraction: Share of campaigns enforcement knows about at all; labels
            of abusive accounts come only from those campaigns.
        benign_label_fraction: Share of organic accounts with a benign label (appeals, reviews).
        label_noise: Share of label rows that are wrong.
        label_delay_days: Mean delay between an account's first abusive (or any) activity and
            its label.

    Other:
        seed: Random seed; the output is byte-for-byte deterministic for a seed.
        start: First day, ISO date.
        compression: Parquet compression of the event files.
    """

    accounts: int = 20_000
    days: int = 7
    events_per_account_day: float = 6.0
    communities_per_1k: float = 4.0
    new_accounts_per_day: float = 0.002
    reciprocity: float = 0.3

    campaigns: int = 12
    campaign_mix: tuple[str, ...] = CAMPAIGN_TYPES
    bots_per_campaign: int = 40
    accounts_per_farm_device: float = 20.0
    lockstep_spread_s: float = 900.0
    camouflage: float = 1.0
    messages_per_bot_day: float = 25.0

    fan_communities: int = 2
    fan_size: int = 150
    viral_per_day: float = 1.0
    viral_size: float = 0.03
    giveaways: int = 2
    giveaway_size: float = 0.015
    creator_spikes: int = 2
    spike_size: float = 0.015
    spike_new_account_share: float = 0.3
    shared_device_household_share: float = 0.15
    campus_share: float = 0.05

    label_fraction: float = 0.5
    labeled_campaign_fraction: float = 0.75
    benign_label_fraction: float = 0.05
    label_noise: float = 0.02
    label_delay_days: float = 3.0

    seed: int = 7
    start: str = "2026-11-01"
    compression: str = "lz4"

    def validate(self) -> None:
        """Raise :class:`ConfigError` on impossible values."""
        odd = [f.name for f in fields(self) if isinstance(getattr(self, f.name), float) and not math.isfinite(getattr(self, f.name))]
        if odd:
            raise ConfigError(f"{', '.join(odd)} must be finite numbers")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be 0 or more, got {self.seed}")
        if self.label_delay_days < 0:
            raise ConfigError(f"label_delay_days must be 0 or more, got {self.label_delay_days}")
        if self.accounts * self.days > MAX_ACCOUNT_DAYS:
            raise ConfigError(f"accounts × days is {self.accounts * self.days:,}, above the {MAX_ACCOUNT_DAYS:,} one machine "
                              "generates; split the log over several runs (--seed) or generate fewer days")
        try:  # a plain YYYY-MM-DD: the generator reads the day as it is written (no week dates, times or offsets)
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.start):
                raise ValueError(self.start)
            first = dt.datetime.combine(dt.date.fromisoformat(self.start), dt.time(), dt.timezone.utc)
        except ValueError:
            raise ConfigError(f"start must be a date written YYYY-MM-DD, such as 2026-11-01, got {self.start!r}") from None
        end = first + dt.timedelta(days=self.days)
        if end > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1):
            raise ConfigError(f"a log from {self.start} over {self.days} days ends {end:%Y-%m-%d}, in the future: a build would "
                              "quarantine those days as future_timestamp; generate fewer days or start earlier")
        if self.accounts < 200:
            raise ConfigError(f"accounts must be at least 200, got {self.accounts}")
        if self.days < 1:
            raise ConfigError(f"days must be at least 1, got {self.days}")
        if self.events_per_account_day <= 0:
            raise ConfigError(f"events_per_account_day must be positive, got {self.events_per_account_day}")
        for name in ("label_fraction", "benign_label_fraction", "label_noise", "reciprocity", "viral_size",
                     "giveaway_size", "spike_size", "spike_new_account_share", "shared_device_household_share",
                     "campus_share", "new_accounts_per_day"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be within [0, 1], got {value}")
        if not 0.0 < self.labeled_campaign_fraction <= 1.0:
            raise ConfigError(f"labeled_campaign_fraction must be within (0, 1], got {self.labeled_campaign_fraction}")
        if self.campaigns < 0 or self.bots_per_campaign < 4:
            raise ConfigError("campaigns must be >= 0 and bots_per_campaign >= 4")
        unknown = [t for t in self.campaign_mix if t not in CAMPAIGN_TYPES]
        if unknown or (self.campaigns and not self.campaign_mix):
            raise ConfigError(f"campaign_mix must name types among {', '.join(CAMPAIGN_TYPES)}; got {self.campaign_mix}")
        if self.accounts_per_farm_device < 2:
            raise ConfigError(f"accounts_per_farm_device must be >= 2, got {self.accounts_per_farm_device}")
        if self.lockstep_spread_s < 1 or self.camouflage < 0 or self.messages_per_bot_day < 1:
            raise ConfigError("lockstep_spread_s must be >= 1, camouflage >= 0, messages_per_bot_day >= 1")
        if min(self.fan_communities, self.giveaways, self.creator_spikes, self.fan_size) < 0 or self.viral_per_day < 0:
            raise ConfigError("hard-negative counts must be >= 0")
        if self.compression not in ("lz4", "zstd", "snappy", "uncompressed"):
            raise ConfigError(f"compression must be lz4, zstd, snappy or uncompressed, got {self.compression}")
