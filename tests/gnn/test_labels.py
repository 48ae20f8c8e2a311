"""The label table: formats read, mistakes refused, the cut-off honoured whatever ``ts`` holds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from gnn.labels import read_labels
from gnn.verdicts import record_verdict
from ringwatch.errors import InputError
from ringwatch.versions import Home

UTC = dt.timezone.utc


def _write(path: Path, **columns: list) -> Path:
    pl.DataFrame(columns).write_parquet(path)
    return path


def test_epoch_and_iso_times_are_read_so_the_cutoff_holds(tmp_path: Path) -> None:
    late = dt.datetime(2026, 12, 1, tzinfo=UTC)
    cutoff = dt.datetime(2026, 11, 15, tzinfo=UTC)
    seconds = _write(tmp_path / "s.parquet", account_id=["a"], label=[1], ts=[int(late.timestamp())])
    millis = _write(tmp_path / "ms.parquet", account_id=["b"], label=[1], ts=[int(late.timestamp() * 1000)])
    text = _write(tmp_path / "iso.parquet", account_id=["c", "d"], label=[1, 0], ts=["2026-12-01T00:00:00Z", "2026-11-01"])
    every = read_labels([seconds, millis, text])
    assert every.filter(pl.col("account_id") == "a")["ts"][0] == late
    assert every.filter(pl.col("account_id") == "b")["ts"][0] == late
    # a label from after the cut-off stays out, whichever way its time was written
    assert read_labels([seconds, millis, text], cutoff=cutoff)["account_id"].to_list() == ["d"]


def test_the_latest_label_wins_across_time_formats(tmp_path: Path) -> None:
    ban = _write(tmp_path / "ban.parquet", account_id=["a"], label=[1], ts=[dt.datetime(2026, 1, 1, tzinfo=UTC)])
    appeal = _write(tmp_path / "appeal.parquet", account_id=["a"], label=[0],
                    ts=[int(dt.datetime(2026, 2, 1, tzinfo=UTC).timestamp())])
    assert read_labels([ban, appeal])["label"].to_list() == [0]


@pytest.mark.parametrize(("columns", "message"), [
    ({"account_id": ["a", "b"], "label": [0.9, 0.0]}, "1 label\\(s\\) that are not 0 or 1"),
    ({"account_id": ["a"], "label": [1], "ts": ["last tuesday"]}, "1 ts value\\(s\\) that do not read"),
])
def test_labels_or_times_that_do_not_read_are_refused(tmp_path: Path, columns: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_labels([_write(tmp_path / "bad.parquet", **columns)])


def test_a_file_that_is_no_parquet_is_one_clear_error(tmp_path: Path) -> None:
    csv = tmp_path / "labels.parquet"
    csv.write_text("account_id,label\na,1\n")
    with pytest.raises(InputError, match="no readable Parquet table"):
        read_labels([csv])


def test_verdicts_are_whole_or_absent_and_hidden_files_are_skipped(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    record_verdict(home, "acct-1", 1, "investigator", "farm")
    (home.labels / ".verdict-cut-short.parquet").write_bytes(b"PAR1 half")  # a writer that died mid-file
    labels = read_labels([home.labels])
    assert labels["account_id"].to_list() == ["acct-1"] and labels["label"].to_list() == [1]
    assert [p.name for p in home.labels.iterdir() if p.name.endswith(".tmp")] == []
