"""The typed settings: environment → fields, defaults with their reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringwatch.settings import Settings


def test_datasets_folder_from_the_environment_or_next_to_the_checkout(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    monkeypatch.delenv("RINGWATCH_DATASETS", raising=False)
    default = Settings().datasets
    assert default == Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
    monkeypatch.setenv("RINGWATCH_DATASETS", str(tmp_path))
    assert Settings().datasets == tmp_path
    monkeypatch.setenv("RINGWATCH_DATASETS", "")  # empty is unset, not the working directory
    assert Settings().datasets == default


def test_a_relative_home_is_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RINGWATCH_HOME", "relhome")
    assert Settings().home == tmp_path / "relhome"
