"""Honest evaluation on real labelled graphs, baselines side by side (``ringwatch evaluate --dataset``).

Protocols (see the README's results table):

* **static graphs** (Amazon, YelpChi, Reddit users): stratified 40 / 20 / 40 train / validation
  / test split per seed; Tolokers uses its own given 50 / 25 / 25 splits (the first ``seeds``
  of its ten). Each graph goes through the documented import path
  (:mod:`graphs.import_static`) into a snapshot, and is read back like any built snapshot.
* Every model sees the same split. Validation labels drive early stopping and calibration;
  test labels are only ever compared with finished scores. Neighbour-label features use
  training labels only.

Models, all in the same run: ``coordination`` (label-free co-action density,
:mod:`gnn.coordination`), ``xgb_own`` (trees on own features), ``xgb_graph`` (+ mean/max of
1- and 2-hop neighbours' features and degree), ``xgb_graph_labels`` (+ training-neighbour
label shares), ``gnn`` (the relation-aware GraphSAGE-style GNN alone), ``bwgnn`` (the published
Beta Wavelet GNN, :mod:`gnn.bwgnn`) and ``hybrid`` (ours: the GNN inside the trees, :mod:`gnn.hybrid`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gnn.bwgnn import bwgnn_logits, fit_bwgnn
from gnn.coordination import coordination_score
from gnn.data import GraphTensors, load_graph
from gnn.ensemble import ensemble_split, fit_hybrid_scorer, link_weights, member_count
from gnn.evaluate import calibration_metrics, calibration_summary, ranking_metrics
from gnn.hybrid import FeatureSet, GnnScores, fit_trees, oof_gnn, tree_margin
from gnn.train import TrainConfig, label_index
from graphs.build import RayConfig
from ringwatch.errors import InputError
from ringwatch.json_text import write_json
from ringwatch.versions import Home

if TYPE_CHECKING:
    from graphs.import_static import StaticGraph

MODELS = ("coordination", "xgb_own", "xgb_graph", "xgb_graph_labels", "gnn", "bwgnn", "hybrid")
BASELINE_BLOCKS = {"xgb_own": ("own",), "xgb_graph": ("own", "graph"), "xgb_graph_labels": ("own", "graph", "labels")}
"""The tree baselines and the feature blocks (:class:`gnn.hybrid.FeatureSet`) each one sees."""
METRICS = ("auroc", "auprc", "recall_at_1pct_fpr", "precision_at_100")
STATIC = {
    "amazon": ("yelpchi-amazon-tam/Amazon.zip", {"relation": "upu"}),
    "yelpchi": ("yelpchi-amazon-tam/YelpChi.zip", {"relation": "rur"}),
    "tolokers": ("tolokers/tolokers.npz", {"relation": "coannotation"}),
    "reddit": ("pygod-reddit/reddit.npz", {"relation": "posted_in", "user_nodes": 10_000}),
}
GOALS = {"amazon": (0.988, 0.92), "yelpchi": (0.975, 0.87), "tolokers": (0.87, 0.64), "reddit": (0.74, 0.11),
         "wikipedia": (0.85, 0.25)}
EVAL_CONFIG = TrainConfig(hidden=32, epochs=80, min_epochs=15, patience=15, lr=0.01, dropout=0.2, device="auto",
                          gnn_folds=2, trees=400, tree_lr=0.08, tree_patience=40)
Progress = Callable[[str], None]


def datasets_root(root: Path | None = None) -> Path:
    """Where the labelled datasets are: ``root`` when given (the CLI passes
    :attr:`ringwatch.settings.Settings.datasets`), else ``../shared/datasets`` next to the repository."""
    return root if root is not None else (Path(__file__).resolve().parents[2] / "shared" / "datasets")


def split_stratified(y: np.ndarray, seed: int, fractions: tuple[float, float] = (0.4, 0.2)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (into ``y``) of a stratified train / validation / test split."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        a = int(round(len(idx) * fractions[0]))
        b = a + int(round(len(idx) * fractions[1]))
        for k, chunk in enumerate((idx[:a], idx[a:b], idx[b:])):
            parts[k].append(chunk)
    tr, va, te = (np.sort(np.concatenate(p)) for p in parts)
    return tr, va, te


def _summary(per_seed: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in per_seed[0]:
        out[model] = {}
        for metric in METRICS:
            vals = [s[model][metric] for s in per_seed]
            out[model][metric] = {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "values": vals}
    return out


def shared_gnn(graph: GraphTensors, tr: np.ndarray, y_tr: np.ndarray, va: np.ndarray, y_va: np.ndarray,
               cfg: TrainConfig, models: tuple[str, ...]) -> GnnScores | None:
    """One GNN training for the ``gnn`` baseline and, where the scorer is one hybrid
    (:func:`gnn.ensemble.ensemble_split`, the rule the scorer's fit follows), that hybrid's
    out-of-fold GNN block; an ensemble's members train their own. ``None`` where neither needs it."""
    one_hybrid = "hybrid" in models and ensemble_split(cfg, graph.num_nodes, y_tr, y_va) is None
    if "gnn" not in models and not one_hybrid:
        return None
    return oof_gnn(graph, tr, y_tr, va, y_va, cfg if one_hybrid else replace(cfg, gnn_folds=0))


def run_split(graph: GraphTensors, fs: FeatureSet, names: list[str], nodes: np.ndarray, y: np.ndarray, tr: np.ndarray,
              va: np.ndarray, te: np.ndarray, cfg: TrainConfig, models: tuple[str, ...] = MODELS,
              log: Progress | None = None) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray], dict[str, Any]]:
    """Fit every model on one split; return test metrics, test scores and the hybrid's calibrated test risk.

    ``tr``, ``va``, ``te`` are positions into ``nodes``/``y``.
    """
    ntr, nva, nte = nodes[tr], nodes[va], nodes[te]
    ytr, yva, yte = y[tr], y[va], y[te]
    scores: dict[str, np.ndarray] = {}
    times: dict[str, float] = {}
    if "coordination" in models:
        scores["coordination"] = coordination_score(graph)[nte]
    for model, blk in BASELINE_BLOCKS.items():
        if model not in models:
            continue
        t = time.perf_counter()
        X, cols = fs.matrix(blk, ntr, ytr)
        booster = fit_trees(X, ntr, ytr, nva, yva, cfg, cols)
        scores[model] = tree_margin(booster, X, nte)
        times[model] = time.perf_counter() - t
        if log:
            log(f"{model}: {times[model]:.1f}s")
    if "bwgnn" in models:
        t = time.perf_counter()
        scores["bwgnn"] = bwgnn_logits(fit_bwgnn(graph, ntr, ytr, nva, yva, cfg), graph)[nte]
        times["bwgnn"] = time.perf_counter() - t
        if log:
            log(f"bwgnn: {times['bwgnn']:.1f}s")
    extra: dict[str, Any] = {}
    if "gnn" in models or "hybrid" in models:
        t = time.perf_counter()
        gs = shared_gnn(graph, ntr, ytr, nva, yva, cfg, models)
        times["gnn_oof"] = time.perf_counter() - t
        if gs is not None:
            scores["gnn"] = gs.full[nte]
            if log:
                log(f"gnn (+{gs.metrics['gnn_folds']} out-of-fold): {times['gnn_oof']:.1f}s")
        if "hybrid" in models:
            t = time.perf_counter()
            fit = fit_hybrid_scorer(graph, names, ntr, ytr, nva, yva, cfg, fs=fs, gnn_scores=gs)
            hyb = fit.model
            scores["hybrid"] = fit.raw[nte]  # as deployed: the labels it trained on only
            cal = fit.calibrator()
            risk = cal(scores["hybrid"])
            extra = {"risk": risk, "calibration": calibration_metrics(yte, risk, cal.thresholds),
                     "trees": hyb.metrics["trees"], "members": member_count(hyb), "link_stack": link_weights(hyb)}
            times["hybrid"] = time.perf_counter() - t + (times["gnn_oof"] if extra["members"] == 1 else 0.0)
            if log:
                stacked = "" if extra["link_stack"] is None else f", LINK stacked at b={extra['link_stack']['b']:.3f}"
                log(f"hybrid ({extra['members']} member(s){stacked}): {times['hybrid']:.1f}s")
    metrics = {m: ranking_metrics(yte, s.astype(np.float64)) for m, s in scores.items()}
    extra["times_s"] = times
    return metrics, scores, extra


@dataclass(frozen=True)
class StaticData:
    """A labelled static graph imported and loaded as the evaluation reads it.

    Attributes:
        name: The dataset name (a :data:`STATIC` key or the file's stem).
        path: The file it was read from.
        source: The imported graph (:class:`graphs.import_static.StaticGraph`): edges,
            features, labels and any given splits, in the file's node order.
        graph: The loaded snapshot.
        names: Its own-feature names.
        nodes: The labelled nodes, ``[num_labelled]``.
        y: Their labels, ``[num_labelled]``.
    """

    name: str
    path: Path
    source: StaticGraph
    graph: GraphTensors
    names: list[str]
    nodes: np.ndarray
    y: np.ndarray

    def splits(self, seeds: int) -> tuple[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
        """The protocol's name and its ``(train, val, test)`` positions (into :attr:`nodes`) per seed.

        The file's own splits where it has them (the first ``seeds``; their unlabelled nodes left
        out), else stratified 40/20/40.

        Raises:
            InputError: A split puts a node in two parts, leaves its validation part empty, or
                its training or test part without both classes (too few labelled nodes of a
                class for a stratified one).
        """
        given = self.source.splits
        if not given:
            protocol, out = "stratified 40/20/40", [split_stratified(self.y, seed) for seed in range(seeds)]
        else:
            k = min(seeds, len(given["train"]))
            node_pos = np.full(self.source.num_nodes, -1)
            node_pos[self.nodes] = np.arange(len(self.nodes))

            def part(mask: np.ndarray) -> np.ndarray:
                pos = node_pos[np.flatnonzero(mask)]
                return np.sort(pos[pos >= 0])  # a split's unlabelled nodes are not in it

            protocol = f"given splits (first {k} of {len(given['train'])})"
            out = [(part(given["train"][i]), part(given["val"][i]), part(given["test"][i])) for i in range(k)]
        kind = "given split" if given else "split"
        for i, (tr, va, te) in enumerate(out):
            shared = len(np.intersect1d(tr, va)) + len(np.intersect1d(tr, te)) + len(np.intersect1d(va, te))
            if shared:
                raise InputError(f"{self.path}: {kind} {i} puts {shared} labelled node(s) in more than one of train / val / "
                                 "test; each node belongs to one part, or the test scores read training labels")
            if not len(va) or any(len(np.unique(self.y[p])) < 2 for p in (tr, te)):
                raise InputError(f"{self.path}: {kind} {i} has {len(tr)} / {len(va)} / {len(te)} labelled train / val / "
                                 f"test nodes with {int(self.y[tr].sum())} / {int(self.y[va].sum())} / {int(self.y[te].sum())} "
                                 "positives; training and test need both classes and validation at least one node")
        return protocol, out


def load_static(name: str, path: Path | None = None, datasets: Path | None = None) -> StaticData:
    """Import a named static dataset (read under ``datasets``, see :func:`datasets_root`) or a
    graph file through the documented import path, and load it back like any built snapshot.

    Raises:
        InputError: The name is unknown or its file is missing.
    """
    from graphs.import_static import publish_static, read_static

    if path is None:
        if name not in STATIC:
            raise InputError(f"unknown dataset {name!r}; valid: {', '.join([*STATIC, 'wikipedia', 'synthetic'])} or a path")
        rel, opts = STATIC[name]
        path = datasets_root(datasets) / rel
        if not path.is_file():
            raise InputError(f"dataset file {path} not found; the datasets are read from {datasets_root(datasets)} "
                             "(../shared/datasets next to the repository unless RINGWATCH_DATASETS says otherwise)")
    else:
        opts = {}
    g = read_static(path, **opts)
    with tempfile.TemporaryDirectory(prefix="ringwatch-eval-") as tmp:
        home = Home(Path(tmp))
        manifest, labels = publish_static(home, g)
        graph, stats = load_graph(home.snapshots.path(manifest["version"]))
    nodes, y = label_index(graph, labels)
    return StaticData(name, path, g, graph, stats.names, nodes, y)


def evaluate_static(name: str, path: Path | None = None, seeds: int = 5, cfg: TrainConfig = EVAL_CONFIG,
                    models: tuple[str, ...] = MODELS, log: Progress | None = None,
                    datasets: Path | None = None) -> dict[str, Any]:
    """Run the static-graph protocol on a named dataset (read under ``datasets``, see
    :func:`datasets_root`) or a file path."""
    data = load_static(name, path, datasets)
    graph, nodes, y = data.graph, data.nodes, data.y
    t = time.perf_counter()
    fs = FeatureSet.of(graph, data.names, cfg.nbr_max)
    feature_s = time.perf_counter() - t
    per_seed, times, calibration, stacks = [], [], [], []
    first: dict[str, Any] = {}
    protocol, splits = data.splits(seeds)
    for seed, (tr, va, te) in enumerate(splits):
        if log:
            log(f"{name} seed {seed}: train {len(tr)}, val {len(va)}, test {len(te)}")
        metrics, scores, extra = run_split(graph, fs, data.names, nodes, y, tr, va, te, replace(cfg, seed=seed), models, log)
        per_seed.append(metrics)
        times.append(extra["times_s"])
        stacks.append(extra.get("link_stack"))
        if "calibration" in extra:
            calibration.append(extra["calibration"])
        if seed == 0:
            first = {"y": y[te], "scores": scores, "risk": extra.get("risk")}
        if log:
            log("  " + ", ".join(f"{m} {v['auroc']:.3f}/{v['auprc']:.3f}" for m, v in metrics.items()))
    result = {"dataset": name, "path": str(data.path), "protocol": protocol, "seeds": len(splits),
              "nodes": data.source.num_nodes, "labelled": int(len(y)), "positives": int(y.sum()),
              "models": _summary(per_seed), "goal": dict(zip(("auroc", "auprc"), GOALS.get(name, (None, None)))),
              "calibration": calibration_summary(calibration), "feature_s": feature_s, "times_s": times, "link_stack": stacks, "config": {k: v for k, v in asdict(cfg).items() if k != "seed"},
              "training_seeds": list(range(len(splits)))}  # split i trains with seed i
    result["_first"] = first
    return result


def write_report(result: dict[str, Any], json_out: Path | None, report_dir: Path | None) -> None:
    """Write the JSON result and an HTML report with ROC, PR, histogram and calibration plots."""
    first = result.pop("_first", None)
    if json_out:
        write_json(Path(json_out), result)
    if report_dir is None:
        return
    from gnn.report import html_report

    html_report(result, first, Path(report_dir))


def evaluate_dataset(dataset: str, seeds: int = 5, models: tuple[str, ...] = MODELS, cfg: TrainConfig = EVAL_CONFIG,
                     log: Progress | None = None, first_seed: int = 0, datasets: Path | None = None,
                     same_platform: bool = False, ray_config: RayConfig | None = None) -> dict[str, Any]:
    """Dispatch ``ringwatch evaluate --dataset``: a known name or a graph file path.

    ``first_seed`` (synthetic only) starts the seed pairs there instead of at 0; ``same_platform``
    (synthetic only) trains on the scored platform's own labels instead of another platform's;
    ``datasets`` is where the named real datasets are (:func:`datasets_root`); ``ray_config`` is
    the Ray the event-log datasets (wikipedia, synthetic) build on.
    """
    name = dataset.lower()
    if first_seed and name != "synthetic":
        raise InputError(f"a first seed applies to the synthetic dataset only (its platforms come from seeds); "
                         f"{dataset!r} takes --seeds alone")
    if same_platform and name != "synthetic":
        raise InputError(f"training on the scored platform itself is a protocol of the synthetic dataset only; "
                         f"{dataset!r} has its own protocol")
    if name == "synthetic" and (first_seed < 0 or first_seed + seeds > 1000):  # platforms are seeds 1000+s and 2000+s: past 999 they repeat
        raise InputError(f"synthetic seeds run from 0 to 999 (seed s trains on platform 1000+s, or with --same-platform "
                         f"on 2000+s, and scores 2000+s); "
                         f"got {first_seed} to {first_seed + seeds - 1}")
    if name in STATIC:
        return evaluate_static(name, None, seeds, cfg, models, log, datasets)
    if name == "wikipedia":
        from gnn.bench_temporal import evaluate_wikipedia

        return evaluate_wikipedia(seeds, cfg, models, log, datasets=datasets, ray_config=ray_config)
    if name == "synthetic":
        from gnn.bench_synthetic import evaluate_synthetic

        return evaluate_synthetic(seeds, cfg, models, log, first_seed=first_seed, same_platform=same_platform,
                                  ray_config=ray_config)
    path = Path(dataset)
    if path.is_file():
        return evaluate_static(path.stem, path, seeds, cfg, models, log)
    raise InputError(f"unknown dataset {dataset!r}; valid: {', '.join([*STATIC, 'wikipedia', 'synthetic'])} or a graph file")
