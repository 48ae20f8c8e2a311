"""The CLI's one-line errors print user input as text, never as Rich markup."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("version", ["[/]", "[red]v9"])
def test_an_error_repeats_the_input_verbatim(tmp_path: Path, version: str) -> None:
    run = subprocess.run([sys.executable, "-c", "from ringwatch.cli import main; main()", "score", "--model", version],
                         capture_output=True, text=True, env={"RINGWATCH_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
                         timeout=120)
    out = run.stdout + run.stderr
    assert run.returncode == 1 and "Traceback" not in out
    assert f"error: '{version}' is not a version name" in out


@pytest.mark.parametrize(("args", "env", "message"), [
    (["train", "--labels", "/nonexistent/lables"], {}, "error: --labels /nonexistent/lables: no such file or folder"),
    (["train", "--epochs", "0"], {}, "Invalid value for '--epochs'"),
    (["train"], {"RINGWATCH_SEED": "-1"}, "error: bad setting in the environment: RINGWATCH_SEED='-1'"),
])
def test_training_mistakes_are_one_clear_line(tmp_path: Path, args: list[str], env: dict[str, str], message: str) -> None:
    run = subprocess.run([sys.executable, "-c", "from ringwatch.cli import main; main()", *args],
                         capture_output=True, text=True, timeout=120,
                         env={"RINGWATCH_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", **env})
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "Traceback" not in out and message in out


def test_neo4j_status_of_an_external_server_that_does_not_answer_exits_3(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a free port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = subprocess.run([sys.executable, "-c", "from ringwatch.cli import main; main()", "neo4j", "status", "--json"],
                         capture_output=True, text=True, timeout=120,
                         env={"RINGWATCH_HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                              "NEO4J_URI": f"bolt://127.0.0.1:{port}", "NEO4J_PASSWORD": "x"})
    assert run.returncode == 3 and "Traceback" not in run.stderr
    info = json.loads(run.stdout)
    assert info["running"] is False and info["embedded"] is False and "cannot reach" in info["message"]


def test_training_without_any_label_says_where_labels_go(tmp_path: Path) -> None:
    from ringwatch.versions import Home
    from tests.gnn.tiny import publish_tiny

    publish_tiny(Home(tmp_path))
    run = subprocess.run([sys.executable, "-c", "from ringwatch.cli import main; main()", "train"],
                         capture_output=True, text=True, timeout=120, env={"RINGWATCH_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    out = " ".join((run.stdout + run.stderr).split())
    assert run.returncode == 1 and "Traceback" not in out
    assert f"no labels in {tmp_path / 'labels'}: put label files (account_id, label) under {tmp_path / 'labels'}" in out


def test_build_without_paths_reads_home_events_and_says_so_when_it_is_missing(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from graphs import build
    from ringwatch.cli import app, common

    monkeypatch.setenv("RINGWATCH_HOME", str(tmp_path))
    common.settings.cache_clear()
    try:
        missing = CliRunner().invoke(app, ["build"])
        assert "no event logs given, and" in str(missing.exception) and str(tmp_path / "events") in str(missing.exception)
        (tmp_path / "events").mkdir()
        seen: list[list[str]] = []

        def fake_build(home, params, **kwargs):  # noqa: ANN001, ANN003, ANN202
            seen.append(params.events)
            raise build.InputError("stop here")

        monkeypatch.setattr(build, "build_snapshot", fake_build)
        assert str(CliRunner().invoke(app, ["build"]).exception) == "stop here"
        assert seen == [[str(tmp_path / "events")]]
    finally:
        common.settings.cache_clear()


def test_synth_starts_where_asked(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", "from ringwatch.cli import main; main()", "synth", "--accounts", "300",
                          "--days", "2", "--campaigns", "2", "--start", "2025-03-01", "--out", str(tmp_path / "s"), "--json"],
                         capture_output=True, text=True, timeout=120, env={"RINGWATCH_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "s" / "events").iterdir()) == ["date=2025-03-01", "date=2025-03-02"]
