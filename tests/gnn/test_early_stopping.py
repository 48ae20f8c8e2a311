"""Early stopping that keeps the later round on a tie."""

from __future__ import annotations

import numpy as np
import xgboost as xgb
from sklearn.metrics import log_loss

from gnn.early_stopping import HoldOnTies

PARAMS = {"objective": "binary:logistic", "eval_metric": "aucpr", "eta": 0.1, "max_depth": 2, "nthread": 1, "seed": 0}


def _separable(n: int, seed: int) -> xgb.DMatrix:
    x = np.random.default_rng(seed).normal(size=(n, 2)).astype(np.float32)
    return xgb.DMatrix(x, label=(x[:, 0] > 0).astype(np.float32))


def test_a_validation_score_that_holds_its_best_keeps_the_trees_growing() -> None:
    dtr, dva = _separable(200, 0), _separable(100, 1)
    # validation AUPRC reaches its level in the first round and holds it: XGBoost's own early
    # stopping keeps one tree
    own = xgb.train(PARAMS, dtr, 60, evals=[(dva, "val")], early_stopping_rounds=5, verbose_eval=False)
    assert own.best_iteration == 0 and own.num_boosted_rounds() == 6
    held = xgb.train(PARAMS, dtr, 60, evals=[(dva, "val")], callbacks=[HoldOnTies(5)], verbose_eval=False)
    assert held.num_boosted_rounds() == 60 and held.best_iteration == 59
    assert float(held.attr("best_score")) >= own.best_score  # it never fell below the first round
    # more trees, larger log-odds on the same ranking
    assert np.abs(held.predict(dva, output_margin=True)).mean() > 3 * np.abs(own.predict(dva, output_margin=True, iteration_range=(0, 1))).mean()


def test_training_stops_after_rounds_below_the_best_and_remembers_it() -> None:
    stop = HoldOnTies(3)
    scores = [0.5, 0.7, 0.7, 0.6, 0.65, 0.6, 0.9]
    booster = xgb.Booster()
    ended = [stop.after_iteration(booster, epoch, {"val": {"aucpr": scores[: epoch + 1]}}) for epoch in range(6)]
    assert ended == [False, False, False, False, False, True]  # best at round 2 (a tie), three worse after it
    stop.after_training(booster)
    assert booster.attr("best_iteration") == "2" and float(booster.attr("best_score")) == 0.7


def test_a_loss_is_minimised_and_its_ties_keep_the_later_round() -> None:
    stop = HoldOnTies(2, metric="logloss")
    losses = [0.6, 0.4, 0.4, 0.5, 0.45, 0.3]
    booster = xgb.Booster()
    ended = [stop.after_iteration(booster, epoch, {"val": {"logloss": losses[: epoch + 1]}}) for epoch in range(5)]
    assert ended == [False, False, False, False, True]  # best at round 2 (a tie with round 1), two worse after it
    stop.after_training(booster)
    assert booster.attr("best_iteration") == "2" and float(booster.attr("best_score")) == 0.4


def test_the_hybrid_trees_stop_on_validation_log_loss() -> None:
    from gnn.hybrid import fit_trees, xgb_params
    from gnn.train import TrainConfig

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3)).astype(np.float32)
    y = ((x[:, 0] + rng.normal(scale=1.5, size=600)) > 0).astype(np.int64)  # noisy: the loss turns up again
    cfg = TrainConfig(trees=300, tree_patience=10, threads=1)
    booster = fit_trees(x, np.arange(400), y[:400], np.arange(400, 600), y[400:], cfg)
    assert xgb_params(cfg)["eval_metric"] == "logloss"
    best = int(booster.attr("best_iteration"))
    assert booster.num_boosted_rounds() == best + 1 + cfg.tree_patience < cfg.trees
    dva = xgb.DMatrix(x[400:], label=y[400:])
    losses = [log_loss(y[400:], booster.predict(dva, iteration_range=(0, i + 1))) for i in range(booster.num_boosted_rounds())]
    assert int(np.argmin(losses)) == best and losses[-1] > losses[best]
