"""The benchmark's result file: strict JSON whatever the figures hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gnn.benchmark import write_report


def _strict(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_result_file_is_strict_json_with_undefined_figures_as_null(tmp_path: Path) -> None:
    result = {"dataset": "x", "rings": {"precision": float("nan"), "found": float("inf")}, "per_seed": [1.0, float("nan")],
              "_first": {"y": [0, 1]}}
    write_report(result, tmp_path / "out" / "result.json", None)
    written = _strict((tmp_path / "out" / "result.json").read_text())
    assert written == {"dataset": "x", "rings": {"precision": None, "found": None}, "per_seed": [1.0, None]}
    with pytest.raises(ValueError, match="not JSON"):
        _strict('{"a": NaN}')
