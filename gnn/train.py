"""Train the account scorer on a snapshot and a label table; publish it as ``models/vN``.

Labelled accounts are split (stratified, seeded) into a training part and a validation part.
The GNN is trained full-batch on the whole graph with the loss on training accounts only,
early-stopped on validation AUPRC; the calibrator is fitted on validation accounts only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from gnn.calibration import Calibrator
from gnn.data import FeatureStats, GraphTensors, load_graph
from gnn.device import pick_device
from gnn.model import RingwatchGNN
from ringwatch.errors import InputError
from ringwatch.versions import Home

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters.

    Args:
        hidden: Hidden size.
        num_layers: Message-passing layers.
        dropout: Dropout rate.
        lr: Adam learning rate.
        weight_decay: L2 penalty.
        epochs: Maximum epochs.
        patience: Epochs without validation improvement before stopping.
        min_epochs: Epochs always run before early stopping may end training.
        val_fraction: Share of labelled accounts held out for early stopping and calibration.
        seed: Seed for the split and the initialisation.
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    hidden: int = 64
    num_layers: int = 2
    dropout: float = 0.2
    lr: float = 0.01
    weight_decay: float = 1e-4
    epochs: int = 150
    patience: int = 20
    min_epochs: int = 30
    val_fraction: float = 0.25
    seed: int = 7
    device: str = "auto"


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into ``labels``) of a stratified train/validation split."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in (0, 1):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * val_fraction))
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def label_index(graph: GraphTensors, labels: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Node indices and 0/1 labels of the labelled accounts present in ``graph``."""
    index = pl.DataFrame({"account_id": graph.account_ids, "_i": np.arange(graph.num_nodes)})
    joined = labels.join(index, on="account_id", how="inner").sort("_i")
    return joined["_i"].to_numpy(), joined["label"].to_numpy()


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    if len(np.unique(y)) < 2:
        return {"auroc": float("nan"), "auprc": float("nan"), "n": int(len(y))}
    return {"auroc": float(roc_auc_score(y, p)), "auprc": float(average_precision_score(y, p)), "n": int(len(y))}


def fit(graph: GraphTensors, nodes: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> tuple[RingwatchGNN, Calibrator, dict[str, Any]]:
    """Train on labelled ``nodes`` of ``graph``; return model, calibrator and metrics.

    Args:
        graph: Graph tensors.
        nodes: Node indices of labelled accounts.
        y: Their labels (0/1).
        cfg: Hyper-parameters.

    Raises:
        InputError: Fewer than two labels of either class.
    """
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos < 2 or n_neg < 2:
        raise InputError(f"training needs at least 2 abusive and 2 benign labelled accounts in the snapshot; found {n_pos} and {n_neg}")
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    device = pick_device(cfg.device)
    g = graph.to(device)
    tr, va = stratified_split(y, cfg.val_fraction, cfg.seed)
    tr_nodes = torch.as_tensor(nodes[tr], device=device)
    va_nodes = torch.as_tensor(nodes[va], device=device)
    y_t = torch.tensor(np.asarray(y, dtype=np.float32), device=device)
    model = RingwatchGNN(g.x.shape[1], list(g.edge_index), cfg.hidden, cfg.num_layers, cfg.dropout).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    pos_weight = torch.tensor(min(n_neg / max(n_pos, 1), 50.0), device=device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    best = (-1.0, 0, None)
    y_va = y[va]
    for epoch in range(cfg.epochs):
        model.train()
        opt.zero_grad()
        logits, _ = model(g.x, g.edge_index)
        loss = loss_fn(logits[tr_nodes], y_t[tr])
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            val_logits = model(g.x, g.edge_index)[0][va_nodes].cpu().numpy()
        score = average_precision_score(y_va, val_logits) if len(np.unique(y_va)) > 1 else -float(loss)
        if score > best[0] + 1e-4 or (epoch < cfg.min_epochs and score >= best[0] - 1e-4):
            best = (score, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
        elif epoch - best[1] >= cfg.patience and epoch >= cfg.min_epochs:
            break
    model.load_state_dict(best[2])
    model.eval()
    with torch.no_grad():
        logits = model(g.x, g.edge_index)[0].cpu().numpy()
    calibrator = Calibrator.fit(logits[nodes[va]], y_va)
    metrics = {
        "train": _metrics(y[tr], logits[nodes[tr]]),
        "validation": _metrics(y_va, logits[nodes[va]]),
        "best_epoch": best[1],
        "epochs_run": epoch + 1,
        "device": str(device),
        "labels": {"positive": n_pos, "negative": n_neg},
    }
    return model.cpu(), calibrator, metrics


def save_model(directory: Path, model: RingwatchGNN, stats: FeatureStats, calibrator: Calibrator, cfg: TrainConfig) -> None:
    """Write model weights, config (with feature statistics) and calibration."""
    torch.save(model.state_dict(), directory / MODEL_FILE)
    config = {"train": asdict(cfg), "in_channels": len(stats.names), "edge_types": [list(e) for e in model.edge_types],
              "features": asdict(stats)}
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    (directory / CALIBRATION_FILE).write_text(json.dumps(calibrator.to_dict(), indent=2))


def load_model(directory: Path) -> tuple[RingwatchGNN, FeatureStats, Calibrator]:
    """Read a model version directory written by :func:`save_model`."""
    config = json.loads((directory / CONFIG_FILE).read_text())
    cfg = TrainConfig(**config["train"])
    model = RingwatchGNN(config["in_channels"], [tuple(e) for e in config["edge_types"]], cfg.hidden, cfg.num_layers, cfg.dropout)
    model.load_state_dict(torch.load(directory / MODEL_FILE, map_location="cpu", weights_only=True))
    model.eval()
    calibrator = Calibrator(**json.loads((directory / CALIBRATION_FILE).read_text()))
    return model, FeatureStats(**config["features"]), calibrator


def train(home: Home, labels: pl.DataFrame, cfg: TrainConfig, snapshot: str | None = None) -> dict[str, Any]:
    """Train on a published snapshot and publish the model as the next ``models/vN``.

    Args:
        home: Storage layout.
        labels: The label table (see :func:`gnn.labels.read_labels`).
        cfg: Hyper-parameters.
        snapshot: Snapshot version (default: current).

    Returns:
        The model manifest.
    """
    snap_manifest = home.snapshots.verify(snapshot)
    graph, stats = load_graph(home.snapshots.path(snap_manifest["version"]))
    nodes, y = label_index(graph, labels)
    model, calibrator, metrics = fit(graph, nodes, y, cfg)
    manifest: dict[str, Any] = {"kind": "model", "model": "RingwatchGNN", "snapshot_version": snap_manifest["version"],
                                "metrics": metrics, "config": asdict(cfg)}
    with home.models.publish(manifest) as staging:
        save_model(staging, model, stats, calibrator, cfg)
    return manifest
