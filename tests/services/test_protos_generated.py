"""The committed generated code (Python in ringwatch/v1/, Go in edge/gen/ringwatch/v1/) matches
what scripts/gen_protos produces."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "ringwatch" / "v1"
GENERATED_GO = REPO / "edge" / "gen" / "ringwatch" / "v1"


def _go() -> str | None:
    return shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)


def _compare(fresh: Path, committed: Path, suffixes: set[str]) -> None:
    fresh_files = sorted(p.name for p in fresh.iterdir() if p.is_file())
    committed_files = sorted(p.name for p in committed.iterdir() if p.is_file() and p.suffix in suffixes)
    assert fresh_files == committed_files, f"generated file set in {committed} changed; run scripts/gen_protos and commit"
    stale = [name for name in fresh_files if not filecmp.cmp(fresh / name, committed / name, shallow=False)]
    assert not stale, f"{stale} differ from a fresh generation; run scripts/gen_protos and commit"


def _generate(out: Path, go: str | None, cwd: Path | None = None) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    if go is not None:
        env["GO"] = go
        env["PATH"] = f"{Path(go).parent}{os.pathsep}{env.get('PATH', '')}"
    else:
        env["GO"] = "/nonexistent/go"
    subprocess.run(["bash", str(REPO / "scripts" / "gen_protos"), str(out)], check=True, env=env, cwd=cwd)


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    go = _go()
    _generate(tmp_path, go)
    _compare(tmp_path / "ringwatch" / "v1", GENERATED, {".py", ".pyi"})
    if go is None:
        pytest.skip("Python code checked; Go code in edge/gen/ not checked: no Go toolchain (`go` on PATH or /usr/local/go/bin/go)")
    _compare(tmp_path / "edge" / "gen" / "ringwatch" / "v1", GENERATED_GO, {".go"})


def test_generated_code_imports() -> None:
    from ringwatch.v1 import risk_pb2, risk_pb2_grpc

    assert risk_pb2.DESCRIPTOR.package == "ringwatch.v1"
    assert hasattr(risk_pb2_grpc, "RiskServiceStub")
    batch = risk_pb2.BatchGetRiskScoresResponse.DESCRIPTOR
    for name in ("risks", "levels", "statuses"):
        assert batch.fields_by_name[name].is_packed, f"{name} must be packed so large batches are cheap"


def test_an_out_dir_relative_to_the_callers_folder(tmp_path: Path) -> None:
    _generate(Path("out"), None, cwd=tmp_path)  # the script runs protoc from protos/: the path must not move
    _compare(tmp_path / "out" / "ringwatch" / "v1", GENERATED, {".py", ".pyi"})
