"""``ringwatch pipeline schedule``: periodic runs, versioned outputs, failures keep the last good."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ringwatch.cli.pipeline import parse_every
from ringwatch.errors import ConfigError
from ringwatch.versions import Home
from tests.integration.test_end_to_end import ringwatch

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_parse_every() -> None:
    assert parse_every("90s") == 90 and parse_every("30m") == 1800 and parse_every("1h") == 3600
    for bad in ("hourly", "nanm", "infs", "1e400h", "0s", "-5m", "400d"):  # nan ran back to back, inf crashed the sleep
        with pytest.raises(ConfigError, match="unit s, m, h or d"):
            parse_every(bad)


def test_a_run_failing_with_any_error_is_logged_and_the_next_tick_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from ringwatch.cli import pipeline

    calls: list[int] = []

    def run(*args: object) -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return {"snapshot": "v1"}

    monkeypatch.setattr(pipeline, "run_pipeline", run)
    monkeypatch.setattr(pipeline.time, "sleep", lambda s: None)
    pipeline.schedule_cmd(Path("events"), every="1s", max_runs=2, export=False)
    assert len(calls) == 2


def test_scheduled_runs_publish_versions_and_a_failed_run_keeps_the_last_good(tmp_path: Path) -> None:
    home = tmp_path / "home"
    synth = tmp_path / "synth"
    ringwatch(home, "synth", "--out", str(synth), "--accounts", "800", "--days", "2", "--campaigns", "3", "--seed", "5")
    (home / "labels").mkdir(parents=True)
    shutil.copy(synth / "labels.parquet", home / "labels" / "synth.parquet")
    ok = ringwatch(home, "pipeline", "schedule", str(synth / "events"), "--every", "1s", "--max-runs", "2",
                   "--reuse-model", "--no-export", "--json")
    runs = json.loads(ok.stdout)
    assert [r["ok"] for r in runs] == [True, True]
    h = Home(home)
    assert h.snapshots.versions() == ["v1", "v2"] and h.models.versions() == ["v1"] and h.scores.current() == "v2"

    failed = ringwatch(home, "pipeline", "schedule", str(tmp_path / "gone"), "--every", "1s", "--max-runs", "1",
                       "--no-export", "--json", check=False)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)[0]["error"].startswith("event path")
    assert (h.snapshots.current(), h.scores.current()) == ("v2", "v2")
    h.scores.verify()
