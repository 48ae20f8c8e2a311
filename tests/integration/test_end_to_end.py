"""The walking skeleton, for real: synth → Ray build → PyG train/score → gRPC → Neo4j.

Each stage runs through the ``ringwatch`` command line in its own process (Ray started by the
build job, a PyG model trained on CPU), the scores are served by the real gRPC server on a
free loopback port and read back by the real client, and the snapshot and scores are
exported into the real embedded Neo4j and queried with Cypher.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import neo4j
import polars as pl
import pytest

from ringwatch.errors import NotFoundError
from ringwatch.settings import Settings
from ringwatch.versions import Home

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.neo4j]


def ringwatch(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RINGWATCH_HOME": str(home), "RINGWATCH_RAY_OBJECT_STORE_MB": "100"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run([sys.executable, "-c", "from ringwatch.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"ringwatch {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def test_pipeline_serves_scores_over_grpc_and_exports_to_neo4j(tmp_path: Path, neo4j_settings: Settings,
                                                               neo4j_driver: neo4j.Driver) -> None:
    from services import neo4j_export
    from services.grpc_server import ServerThread, open_store
    from services.risk_client import RiskClient

    home = tmp_path / "home"
    synth = tmp_path / "synth"
    ringwatch(home, "synth", "--out", str(synth), "--accounts", "1500", "--days", "3", "--campaigns", "4", "--seed", "11")
    ringwatch(home, "build", str(synth / "events"))
    (home / "labels").mkdir(parents=True)
    shutil.copy(synth / "labels.parquet", home / "labels" / "synth.parquet")
    ringwatch(home, "train", "--epochs", "60")
    ringwatch(home, "score")
    h = Home(home)
    assert (h.snapshots.current(), h.models.current(), h.scores.current()) == ("v1", "v1", "v1")

    scores = pl.read_parquet(h.scores.path() / "scores.parquet").sort("risk", descending=True)
    truth = pl.read_parquet(synth / "ground_truth.parquet")
    top = scores.head(20).join(truth, on="account_id")
    assert top["is_abusive"].mean() >= 0.8  # the riskiest accounts are planted abusers

    settings = Settings(home=home, neo4j_uri=None)
    with ServerThread("127.0.0.1:0", open_store(settings)).start() as server:
        with RiskClient(f"127.0.0.1:{server.port}") as client:
            riskiest = scores["account_id"][0]
            got = client.get(riskiest)
            assert got.account_id == riskiest
            assert got.risk == pytest.approx(scores["risk"][0], abs=1e-6)
            assert got.score_set.model_version == "v1" and got.score_set.snapshot_version == "v1"
            batch = client.batch_get(scores["account_id"].head(50).to_list() + ["nobody"])
            assert len(batch) == 51 and batch.statuses[-1] != batch.statuses[0]
            with pytest.raises(NotFoundError):
                client.get("nobody")

    report = neo4j_export.export(neo4j_driver, h.snapshots.path(), h.scores.path())
    assert report.nodes["Account"] == scores.height
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a:Account {id: $id})-[:USES_DEVICE]->(:Device)<-[:USES_DEVICE]-(b:Account) "
        "RETURN count(DISTINCT b) AS sharing, a.level AS level", id=riskiest)
    assert records[0]["level"] == scores["level"][0]
    assert records[0]["sharing"] >= 1  # planted farms share devices


def test_cli_bad_inputs_fail_clearly_without_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = ringwatch(home, "build", str(tmp_path / "no-such-dir"), check=False)
    assert missing.returncode != 0 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = ringwatch(home, "build", str(tmp_path / "empty"), check=False)
    assert empty.returncode != 0 and "no event files" in empty.stderr and "Traceback" not in empty.stderr
    no_scores = ringwatch(home, "score", check=False)
    assert no_scores.returncode != 0 and "no models published" in no_scores.stderr and "Traceback" not in no_scores.stderr
    bad_view = ringwatch(home, "train", "--tree-views", "own,own+friends", check=False)
    assert bad_view.returncode != 0 and "unknown block" in bad_view.stderr and "valid" in bad_view.stderr
    assert "Traceback" not in bad_view.stderr
    for verb in (("train",), ("evaluate", "--dataset", "amazon")):
        no_members = ringwatch(home, *verb, "--cross-fit", "0", check=False)
        assert no_members.returncode != 0 and "--cross-fit must be 1" in no_members.stderr, verb
        assert "Traceback" not in no_members.stderr
