"""Training and scoring on each torch device present: the CPU always, CUDA where a GPU is found."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from gnn.data import load_graph
from gnn.score import score
from gnn.train import TrainConfig, gnn_logits, load_model, train
from ringwatch.types import SCORES_TABLE
from ringwatch.versions import Home
from tests.gnn.tiny import NORMAL, RING, publish_tiny, tiny_labels

FAST = TrainConfig(hidden=16, epochs=60, min_epochs=20, patience=10, seed=3, trees=30, gnn_folds=2)
DEVICES = [
    pytest.param("cpu"),
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="no CUDA device on this machine; the CUDA path is checked where one is")),
]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home(tmp_path / "home")
    publish_tiny(h)
    return h


@pytest.mark.parametrize("model", ["gnn", "hybrid"])
@pytest.mark.parametrize("device", DEVICES)
def test_train_and_score_on_device(home: Home, device: str, model: str) -> None:
    manifest = train(home, tiny_labels(), replace(FAST, device=device, model=model))
    assert manifest["metrics"]["device"].startswith(device)
    out = score(home, device=device)
    assert out["device"].startswith(device)
    s = pl.read_parquet(home.scores.path() / SCORES_TABLE)
    assert s["risk"].is_finite().all()
    assert s.filter(pl.col("account_id").is_in(RING[6:]))["risk"].min() > s.filter(pl.col("account_id").is_in(NORMAL[30:]))["risk"].max()


@pytest.mark.parametrize("device", DEVICES[1:])
def test_device_logits_match_cpu(home: Home, device: str) -> None:
    train(home, tiny_labels(), replace(FAST, device=device, model="gnn"))
    model, stats, _ = load_model(home.models.path())
    graph, _ = load_graph(home.snapshots.path(), stats)
    on_device = gnn_logits(model, graph, torch.device(device))
    on_cpu = gnn_logits(model, graph, torch.device("cpu"))
    assert on_device.shape == (graph.num_nodes,)
    assert np.allclose(on_device, on_cpu, atol=1e-4)
