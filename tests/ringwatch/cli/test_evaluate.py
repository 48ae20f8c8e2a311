"""``ringwatch evaluate``'s options: checked before any work, and every output written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ringwatch.cli import app, common
from ringwatch.errors import RingwatchError


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RINGWATCH_HOME", str(tmp_path / "home"))
    common.settings.cache_clear()
    yield tmp_path / "home"
    common.settings.cache_clear()


def _graph(path: Path) -> Path:
    """A 200-node graph whose abusive nodes stand out in their features and link to each other."""
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.2).astype(np.int64)
    x = rng.normal(size=(200, 4)) + y[:, None]
    src, dst = rng.integers(0, 200, 800), rng.integers(0, 200, 800)
    np.savez(path, x=x.astype(np.float32), edge_index=np.stack([src, dst]), y=y)
    return path


def _run(*args: str) -> tuple[int, str]:
    """Exit code and output; a Ringwatch error (which ``main`` prints as one line) as its message."""
    result = CliRunner().invoke(app, ["evaluate", *args])
    if isinstance(result.exception, RingwatchError):
        return 1, str(result.exception)
    return result.exit_code, result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--truth", "t.parquet", "--report", "r"], "--report cannot be combined with --truth"),
    (["--truth", "t.parquet", "--models", "bogus", "--seeds", "3"], "--seeds, --models cannot be combined with --truth"),
    (["--dataset", "amazon", "--truth", "t.parquet"], "--truth cannot be combined with --dataset"),
    (["--dataset", "amazon", "--seeds", "0"], "--seeds must be 1 or more"),
    (["--truth", "t.parquet", "--exclude-labels", "lables"], "no such file or folder: lables"),
    (["--truth", "t.parquet", "--seeds", "3"], "--seeds cannot be combined with --truth"),
    (["--truth", "t.parquet", "--no-link"], "--no-link cannot be combined with --truth"),
    (["--dataset", "amazon", "--models", ""], "--models: none given"),
    (["--dataset", "amazon", "--models", " , "], "--models: none given"),
    (["--dataset", "amazon", "--models", "hybrid,,bogus"], "--models: unknown ['bogus']"),
    (["--dataset", "amazon", "--json", ""], "--json needs a file name"),
    (["--truth", "t.parquet", "--json", " "], "--json needs a file name"),
])
def test_options_of_the_other_mode_and_bad_values_are_refused(home: Path, args: list[str], message: str) -> None:
    code, out = _run(*args)
    assert code == 1 and message in " ".join(out.split())


def test_unwritable_outputs_are_refused_before_the_work(home: Path, tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("")
    graph = str(tmp_path / "missing.npz")  # never read: the outputs are checked first
    assert "is a folder" in _run("--dataset", graph, "--json", str(tmp_path / "adir"))[1]
    assert "is a file" in " ".join(_run("--dataset", graph, "--report", str(tmp_path / "afile"))[1].split())
    under_a_file = str(tmp_path / "afile" / "out")  # its parent can never be made
    assert "is a file, so" in " ".join(_run("--dataset", graph, "--json", under_a_file + ".json")[1].split())
    assert "is a file, so" in " ".join(_run("--dataset", graph, "--report", under_a_file)[1].split())
    assert "is a file, so" in " ".join(_run("--truth", graph, "--json", under_a_file + ".json")[1].split())


def test_the_settings_device_and_ray_reach_the_evaluation(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gnn import benchmark

    seen: dict = {}

    def spy(dataset: str, **kwargs: object) -> dict:
        seen.update(kwargs)
        raise RingwatchError("stop here")

    monkeypatch.setattr(benchmark, "evaluate_dataset", spy)
    monkeypatch.setenv("RINGWATCH_DEVICE", "cpu")
    monkeypatch.setenv("RINGWATCH_RAY_NUM_CPUS", "1")
    monkeypatch.setenv("RINGWATCH_RAY_OBJECT_STORE_MB", "100")
    common.settings.cache_clear()
    assert _run("--dataset", "synthetic", "--seeds", "1") == (1, "stop here")
    assert seen["cfg"].device == "cpu" and seen["cfg"].link
    assert _run("--dataset", "tolokers", "--no-link") == (1, "stop here")
    assert not seen["cfg"].link
    assert (seen["ray_config"].num_cpus, seen["ray_config"].object_store_mb, seen["ray_config"].address) == (1, 100, None)


def test_json_on_stdout_with_a_report_still_draws_the_plots(home: Path, tmp_path: Path) -> None:
    code, out = _run("--dataset", str(_graph(tmp_path / "g.npz")), "--seeds", "1", "--models", "xgb_own",
                     "--json", "-", "--report", str(tmp_path / "report"))
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "report").glob("*.png"))  # no plots were drawn before
    assert (tmp_path / "report" / "index.html").read_text().count("<img") >= 3
    payload = json.loads(out[out.index("{\n"):out.rindex("}") + 1])
    assert "_first" not in payload and payload["models"]["xgb_own"]["auroc"]["mean"] > 0.5
    assert payload["training_seeds"] == [0] and "seed" not in payload["config"]  # what the splits trained with


def test_truth_mode_scores_a_published_set_leaving_out_every_training_label(home: Path, tmp_path: Path) -> None:
    import polars as pl

    from gnn.score import score
    from gnn.train import TrainConfig, train
    from ringwatch.versions import Home
    from tests.gnn.tiny import NORMAL, RING, publish_tiny, tiny_labels

    h = Home(home)
    publish_tiny(h)
    train(h, tiny_labels(), TrainConfig(hidden=16, epochs=30, min_epochs=10, patience=5, seed=3, device="cpu", trees=20,
                                        cross_fit=1))
    score(h)
    truth = pl.DataFrame({"account_id": RING + NORMAL + ["not-scored"], "label": [1] * len(RING) + [0] * len(NORMAL) + [1]})
    truth.write_parquet(tmp_path / "truth.parquet")
    code, out = _run("--truth", str(tmp_path / "truth.parquet"), "--json", "-")
    assert code == 0, out
    result = json.loads(out)
    trained = tiny_labels().height  # the six ring members and thirty normal accounts the model trained on
    assert (result["truth_rows"], result["matched"], result["unmatched_truth"]) == (69, 68, 1)
    assert result["excluded_training_labels"] == trained and result["n"] == 68 - trained
    assert result["positives"] == len(RING) - 6
