"""The CLI's one-line errors print user input as text, never as Rich markup."""

from __future__ import annotations

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
