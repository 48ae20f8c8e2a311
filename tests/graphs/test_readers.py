"""Reading event files: a malformed line is set aside, never the whole file."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from graphs.readers import discover, read_file
from ringwatch.errors import InputError


def test_a_ragged_csv_line_is_set_aside_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "day.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("ts,actor_id,event_type\n1700000000,u1,like\n1700000001,u2,like,EXTRA\n\n1700000002,u3,\n")
    rows, malformed = read_file(str(path))
    assert rows.to_dicts() == [{"ts": "1700000000", "actor_id": "u1", "event_type": "like"},
                               {"ts": "1700000002", "actor_id": "u3", "event_type": None}]  # empty reads as null, as before
    assert malformed.to_dicts() == [{"line": 3, "text": "1700000001,u2,like,EXTRA"}]


def test_a_truncated_or_undecodable_json_line_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    path.write_bytes(b'{"ts": 1, "actor_id": "a"}\n[1, 2]\n{"ts": 2, "actor_id": "\xff"}\n{"ts": 3, "act\n')
    rows, malformed = read_file(str(path))
    assert rows["actor_id"].to_list() == ["a"]
    assert malformed["line"].to_list() == [2, 3, 4]
    assert malformed["text"][2] == '{"ts": 3, "act'


def test_a_clean_file_has_no_malformed_lines(tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    pl.DataFrame({"ts": ["1"], "actor_id": ["a"]}).write_csv(path)
    rows, malformed = read_file(str(path))
    assert rows.height == 1 and malformed.is_empty()


def test_a_file_without_one_row_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    path.write_text("not json\n")
    with pytest.raises(InputError, match="no JSON object line; line 1: 'not json'"):
        read_file(str(path))


def test_the_line_by_line_reading_keeps_quoted_line_breaks_and_drops_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_bytes(b'\xef\xbb\xbfts,actor_id,event_type\n1,a,"like\nit"\n2,b,like,EXTRA\n3,c\xff,like\n4,d,like\n')
    rows, malformed = read_file(str(path))
    assert rows.columns == ["ts", "actor_id", "event_type"]
    assert rows.rows() == [("1", "a", "like\nit"), ("4", "d", "like")]  # a record over two lines is one record
    assert malformed["line"].to_list() == [4, 5] and malformed["text"][1] == "3,c\ufffd,like"


def test_a_gzip_cut_short_fails_the_file_clearly(tmp_path: Path) -> None:
    whole = gzip.compress(b"ts,actor_id\n" + b"1,a,EXTRA\n" * 5000)
    path = tmp_path / "day.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="cannot read event file"):
        read_file(str(path))


def test_json_lines_whose_fields_disagree_on_type_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    path.write_text('{"ts": 1700000000, "actor_id": "a", "weight": 2.5}\n[1, 2]\n'
                    '{"ts": 1700000001, "actor_id": 7, "weight": true, "extra": {"k": 1}}\n'
                    '{"ts": 1700000002, "actor_id": "b\\ud800", "weight": 1}\n')  # a lone surrogate escape
    rows, malformed = read_file(str(path))
    assert malformed["line"].to_list() == [2]
    assert rows.select("ts", "actor_id", "weight", "extra").rows() == [
        ("1700000000", "a", "2.5", None), ("1700000001", "7", "true", '{"k": 1}'), ("1700000002", "b\ufffd", "1", None)]


def test_a_csv_row_of_empty_fields_is_a_row_on_the_line_by_line_path_too(tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text("ts,actor_id,event_type\n1700000000,a,like\n,,\n1700000001,b,like,EXTRA\n")
    rows, malformed = read_file(str(path))
    assert rows.height == 2 and rows.row(1) == (None, None, None)  # quarantined later as missing_actor, not lost
    assert malformed["line"].to_list() == [4]


def test_one_file_named_twice_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    pl.DataFrame({"ts": ["1"], "actor_id": ["a"]}).write_csv(tmp_path / "logs" / "day.csv")
    found = discover([str(tmp_path / "logs"), f"{tmp_path}/./logs/*.csv", f"{tmp_path}/logs/../logs/day.csv"])
    assert found == [str(tmp_path / "logs" / "day.csv")]
