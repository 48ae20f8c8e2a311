"""The committed generated code in ringwatch/v1/ matches what scripts/gen_protos produces."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "ringwatch" / "v1"


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["bash", str(REPO / "scripts" / "gen_protos"), str(tmp_path)], check=True, env=env)
    fresh = tmp_path / "ringwatch" / "v1"
    fresh_files = sorted(p.name for p in fresh.iterdir() if p.is_file())
    committed = sorted(p.name for p in GENERATED.iterdir() if p.is_file() and p.suffix in {".py", ".pyi"})
    assert fresh_files == committed, "generated file set changed; run scripts/gen_protos and commit"
    stale = [name for name in fresh_files if not filecmp.cmp(fresh / name, GENERATED / name, shallow=False)]
    assert not stale, f"{stale} differ from a fresh generation; run scripts/gen_protos and commit"


def test_generated_code_imports() -> None:
    from ringwatch.v1 import risk_pb2, risk_pb2_grpc

    assert risk_pb2.DESCRIPTOR.package == "ringwatch.v1"
    assert hasattr(risk_pb2_grpc, "RiskServiceStub")
    batch = risk_pb2.BatchGetRiskScoresResponse.DESCRIPTOR
    for name in ("risks", "levels", "statuses"):
        assert batch.fields_by_name[name].is_packed, f"{name} must be packed so large batches are cheap"
