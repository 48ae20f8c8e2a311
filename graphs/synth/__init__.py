"""Synthetic short-video event logs with planted coordinated campaigns and hard negatives.

``generate(out, SynthConfig(...))`` writes, under ``out``:

* ``events/date=YYYY-MM-DD/part-0.parquet`` — the canonical event schema, one partition a day;
* ``labels.parquet`` — partial, noisy, delayed labels (``account_id, label, source, ts``);
* ``ground_truth.parquet`` — evaluation only: campaign id/type, hard-negative type, role, age;
* ``accounts.parquet`` — every account's creation time (the log itself holds ``signup``
  events only for accounts created inside it, so a build from events alone sees the observed
  age of older accounts);
* ``summary.json``.

Everything is vectorised NumPy/Polars, streamed one day at a time, deterministic per seed.
"""

from graphs.synth.config import CAMPAIGN_TYPES, EVENT_TYPES, HARD_NEGATIVE_TYPES, SynthConfig
from graphs.synth.generate import generate

__all__ = ["CAMPAIGN_TYPES", "EVENT_TYPES", "HARD_NEGATIVE_TYPES", "SynthConfig", "generate"]
