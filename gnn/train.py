"""Train the account scorer on a snapshot and a label table; publish it as ``models/vN``.

Labelled accounts are split (stratified, seeded) into a training part and a validation part.
The GNN is trained full-batch on the whole graph with the loss on training accounts only,
early-stopped on validation AUPRC; the calibrator is fitted on validation accounts only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from gnn.calibration import Calibrator
from gnn.data import NODE_ROW, FeatureStats, GraphTensors, load_graph, with_node_rows
from gnn.device import pick_device
from gnn.drift import DriftReference
from gnn.model import RingwatchGNN, mean_operators
from ringwatch.errors import ConfigError, InputError
from ringwatch.versions import Home

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
CALIBRATION_FILE = "calibration.json"
DRIFT_FILE = "drift.json"
LABELS_USED_FILE = "labels_used.parquet"
"""Every labelled account a model trained or calibrated on (``account_id, label``): evaluation
leaves them out, wherever their labels came from (``HOME/labels`` or a labelled log)."""
MODELS = ("hybrid", "gnn")


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
        model: ``hybrid`` (GNN inside gradient-boosted trees; the default) or ``gnn`` (the
            GNN alone).
        gnn_folds: Out-of-fold GNNs for the hybrid's GNN column on training accounts.
        trees: Maximum boosting rounds.
        tree_depth: Tree depth.
        tree_lr: Boosting learning rate.
        tree_patience: Rounds worse than the best validation log-loss before the trees stop (a
            round that ties the best is no worse: :mod:`gnn.early_stopping`).
        threads: XGBoost threads.
        nbr_max: Include max-of-neighbour features (mean ones are always included).
        tree_views: The hybrid's tree views, one booster each, averaged (:func:`gnn.hybrid.view_blocks`):
            ``all`` or ``+``-joined blocks.
        tree_bags: Boosters per view, each with its own seed (row and column subsampling
            differ): a variance cut on small, noisy label sets, at that many times the tree
            time (measured on Reddit users with one view: +0.01–0.02 AUROC; on YelpChi and
            Amazon within the seed spread).
        cross_fit: Members of the cross-fitted hybrid (:mod:`gnn.ensemble`): each trained on all
            but one fold of the training accounts and half the validation accounts and stopped on
            that fold, averaged, and calibrated on the other half with the members' out-of-fold
            scores (default 5: measured on every graph of the README's table); 1 trains one hybrid. Graphs over
            :data:`gnn.ensemble.MAX_CROSS_FIT_UP_TO` accounts get one hybrid.
        link: Stack LINK (:mod:`gnn.link`: a logistic regression on which accounts an account links
            to) beside the cross-fitted members, on graphs without coordination relations, where a
            stacker over out-of-fold scores gives it a positive weight (measured on the README's
            static graphs: Reddit AUPRC up, Amazon level).
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
    model: str = "hybrid"
    gnn_folds: int = 3
    trees: int = 400
    tree_depth: int = 6
    tree_lr: float = 0.08
    tree_patience: int = 40
    threads: int = 2
    nbr_max: bool = True
    tree_views: tuple[str, ...] = ("own+spectral", "own+spectral+graph+group+labels+nbr_shares+answerers", "all")
    tree_bags: int = 1
    cross_fit: int = 5
    link: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.seed < 0:
            raise ConfigError(f"training needs epochs >= 1 and a seed >= 0, got epochs={self.epochs}, seed={self.seed}")


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
    joined = with_node_rows(graph.account_ids, labels).sort(NODE_ROW)
    return joined[NODE_ROW].to_numpy(), joined["label"].to_numpy()


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    if len(np.unique(y)) < 2:
        return {"auroc": float("nan"), "auprc": float("nan"), "n": int(len(y))}
    return {"auroc": float(roc_auc_score(y, p)), "auprc": float(average_precision_score(y, p)), "n": int(len(y))}


SMALL_GRAPH_NODES = 200_000
"""Below this many nodes, torch runs single-threaded: tiny kernels gain nothing from threads and
spinning OpenMP workers cost seconds on a busy machine."""


@contextmanager
def torch_threads(num_nodes: int) -> Iterator[None]:
    """Run small graphs single-threaded; restore the thread count afterwards."""
    before = torch.get_num_threads()
    if num_nodes < SMALL_GRAPH_NODES and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_gnn(graph: GraphTensors, tr_nodes: np.ndarray, y_tr: np.ndarray, va_nodes: np.ndarray, y_va: np.ndarray,
              cfg: TrainConfig) -> tuple[RingwatchGNN, int, int, torch.device]:
    """Train a :class:`RingwatchGNN` full-batch: loss on ``tr_nodes``, early stopping on ``va_nodes``' AUPRC.

    Returns:
        The best model (eval mode, on the training device), best epoch, epochs run, device.
    """
    with torch_threads(graph.num_nodes):
        return _train_gnn(graph, tr_nodes, y_tr, va_nodes, y_va, cfg)


def _train_gnn(graph: GraphTensors, tr_nodes: np.ndarray, y_tr: np.ndarray, va_nodes: np.ndarray, y_va: np.ndarray,
               cfg: TrainConfig) -> tuple[RingwatchGNN, int, int, torch.device]:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    device = pick_device(cfg.device)
    g = graph.to(device)
    tr_t = torch.from_numpy(np.array(tr_nodes, dtype=np.int64)).to(device)
    va_t = torch.from_numpy(np.array(va_nodes, dtype=np.int64)).to(device)
    y_tr_t = torch.tensor(np.asarray(y_tr, dtype=np.float32), device=device)
    n_pos, n_neg = int((y_tr == 1).sum()), int((y_tr == 0).sum())
    # only relations with edges get weights: one that first has edges at scoring time must not pass
    # messages through weights that never learned (the hybrid's feature blocks leave it out too)
    model = RingwatchGNN(g.x.shape[1], [et for et, ei in g.edge_index.items() if ei.numel()], cfg.hidden, cfg.num_layers,
                         cfg.dropout).to(device)
    ops = mean_operators(g.edge_index, g.num_nodes)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    pos_weight = torch.tensor(min(n_neg / max(n_pos, 1), 50.0), device=device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (-float("inf"), 0, None)
    epoch = 0
    for epoch in range(cfg.epochs):
        model.train()
        opt.zero_grad()
        logits, _ = model(g.x, ops)
        loss = loss_fn(logits[tr_t], y_tr_t)
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            val_logits = model(g.x, ops)[0][va_t].cpu().numpy()
        score = average_precision_score(y_va, val_logits) if len(np.unique(y_va)) > 1 else -float(loss.detach())
        if score > best[0] + 1e-4 or (epoch < cfg.min_epochs and score >= best[0] - 1e-4):
            best = (score, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
        elif epoch - best[1] >= cfg.patience and epoch >= cfg.min_epochs:
            break
    assert best[2] is not None
    model.load_state_dict(best[2])
    model.eval()
    return model, best[1], epoch + 1, device


def gnn_logits(model: RingwatchGNN, graph: GraphTensors, device: torch.device | None = None) -> np.ndarray:
    """Logits of every node (inference mode: no autograd)."""
    device = device or torch.device("cpu")
    model = model.to(device).eval()
    with torch.inference_mode(), torch_threads(graph.num_nodes):
        out = model(graph.x.to(device), {k: v.to(device) for k, v in graph.edge_index.items()})[0].cpu().numpy()
    model.cpu()
    return out


def fit(graph: GraphTensors, nodes: np.ndarray, y: np.ndarray,
        cfg: TrainConfig) -> tuple[RingwatchGNN, Calibrator, dict[str, Any], np.ndarray]:
    """Train on labelled ``nodes`` of ``graph``; return model, calibrator, metrics and every node's logit.

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
    tr, va = stratified_split(y, cfg.val_fraction, cfg.seed)
    model, best_epoch, epochs_run, device = train_gnn(graph, nodes[tr], y[tr], nodes[va], y[va], cfg)
    logits = gnn_logits(model, graph, device)
    y_va = y[va]
    calibrator = Calibrator.fit(logits[nodes[va]], y_va)
    metrics = {
        "train": _metrics(y[tr], logits[nodes[tr]]),
        "validation": _metrics(y_va, logits[nodes[va]]),
        "best_epoch": best_epoch,
        "epochs_run": epochs_run,
        "device": str(device),
        "labels": {"positive": n_pos, "negative": n_neg},
    }
    return model.cpu(), calibrator, metrics, logits


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


def labels_used(home: Home, model_version: str) -> set[str]:
    """The accounts whose labels went into model ``model_version``: its own record, or, for a
    model saved before that was kept, the labels its snapshot's log carried (training reads
    those beside ``HOME/labels``, which the caller adds itself).

    Raises:
        NotFoundError: The model is no longer published.
    """
    directory = home.models.path(model_version)
    used = directory / LABELS_USED_FILE
    if not used.is_file():
        snapshot = home.models.manifest(model_version).get("snapshot_version")
        used = home.snapshots.root / str(snapshot) / "log_labels.parquet"
        if not used.is_file():
            return set()
    return set(pl.read_parquet(used, columns=["account_id"])["account_id"].cast(pl.String).to_list())


def load_drift(directory: Path) -> DriftReference | None:
    """The training snapshot's :class:`gnn.drift.DriftReference` (``None`` for a model trained before it was kept)."""
    path = directory / DRIFT_FILE
    return DriftReference.from_dict(json.loads(path.read_text())) if path.is_file() else None


def load_hybrid(directory: Path, model: RingwatchGNN) -> Any:
    """The hybrid part of a model version (one hybrid or a cross-fitted ensemble), or None for a plain-GNN model."""
    from gnn.ensemble import ENSEMBLE_FILE, HybridEnsemble
    from gnn.hybrid import HYBRID_FILE, HybridModel

    if (directory / ENSEMBLE_FILE).is_file():
        return HybridEnsemble.load(directory, model)
    return HybridModel.load(directory, model) if (directory / HYBRID_FILE).is_file() else None


def train(home: Home, labels: pl.DataFrame, cfg: TrainConfig, snapshot: str | None = None) -> dict[str, Any]:
    """Train on a published snapshot and publish the model as the next ``models/vN``.

    Args:
        home: Storage layout.
        labels: The label table (see :func:`gnn.labels.read_labels`).
        cfg: Hyper-parameters; ``cfg.model`` picks ``hybrid`` (default) or ``gnn``.
        snapshot: Snapshot version (default: current).

    Returns:
        The model manifest.
    """
    if cfg.model not in MODELS:
        raise InputError(f"unknown model {cfg.model!r}; valid: {', '.join(MODELS)}")
    # a build's prune leaves the snapshot alone until the model naming it is published
    with home.snapshots.reading(snapshot) as snapshot:
        return _train(home, labels, cfg, snapshot)


def _train(home: Home, labels: pl.DataFrame, cfg: TrainConfig, snapshot: str) -> dict[str, Any]:
    """:func:`train` on a named snapshot the caller holds against prune."""
    snap_manifest = home.snapshots.verify(snapshot)
    graph, stats = load_graph(home.snapshots.path(snapshot))
    nodes, y = label_index(graph, labels)
    hybrid = None
    if cfg.model == "gnn":
        model, calibrator, metrics, raw = fit(graph, nodes, y, cfg)
    else:
        hybrid, calibrator, metrics, raw = fit_hybrid_model(graph, stats, nodes, y, cfg)
        model = hybrid.gnn
    if np.unique(raw).size < 2:  # published, it would put the whole platform at the labels' base rate
        raise InputError(f"the trained model scores every account alike: {int(y.sum())} abusive and {int(len(y) - y.sum())} "
                         "benign labelled accounts gave it nothing to split on; label more accounts (tens of each)")
    drift = DriftReference.fit(graph.x.numpy(), stats.names, calibrator(raw), calibrator.thresholds)
    metrics["level_shares"] = {k: round(v, 5) for k, v in drift.level_shares.items()}
    metrics["labels_not_in_snapshot"] = int(labels.height - len(nodes))  # a typo, or an account the build never saw
    manifest: dict[str, Any] = {"kind": "model", "model": "RingwatchGNN" if hybrid is None else "RingwatchHybrid",
                                "snapshot_version": snap_manifest["version"], "metrics": metrics, "config": asdict(cfg)}
    with home.models.publish(manifest) as staging:
        save_model(staging, model, stats, calibrator, cfg)
        (staging / DRIFT_FILE).write_text(json.dumps(drift.to_dict()))
        pl.DataFrame({"account_id": graph.account_ids[nodes].tolist(), "label": y.astype(np.int64)},
                     schema={"account_id": pl.String, "label": pl.Int64}).write_parquet(staging / LABELS_USED_FILE)
        if hybrid is not None:
            hybrid.save(staging)
    return manifest


def fit_hybrid_model(graph: GraphTensors, stats: FeatureStats, nodes: np.ndarray, y: np.ndarray,
                     cfg: TrainConfig) -> tuple[Any, Calibrator, dict[str, Any], np.ndarray]:
    """Split labelled ``nodes`` into train/validation, fit the scorer (:func:`gnn.ensemble.fit_hybrid_scorer`:
    one hybrid, or the cross-fitted ensemble), calibrate on the scores :meth:`gnn.ensemble.ScorerFit.calibrator` reads.

    Returns:
        The scorer, its calibrator, its metrics and every node's log-odds.
    """
    from gnn.ensemble import fit_hybrid_scorer, member_count

    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos < 2 or n_neg < 2:
        raise InputError(f"training needs at least 2 abusive and 2 benign labelled accounts in the snapshot; found {n_pos} and {n_neg}")
    tr, va = stratified_split(y, cfg.val_fraction, cfg.seed)
    fit = fit_hybrid_scorer(graph, stats.names, nodes[tr], y[tr], nodes[va], y[va], cfg)
    hybrid = fit.model
    metrics = {"validation": _metrics(fit.y_held_out, fit.raw[fit.held_out]), "members": member_count(hybrid),
               "best_epoch": hybrid.metrics["gnn_best_epoch"], "trees": hybrid.metrics["trees"],
               "device": str(pick_device(cfg.device)), "labels": {"positive": n_pos, "negative": n_neg}}
    return hybrid, fit.calibrator(), metrics, fit.raw
