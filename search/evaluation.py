"""Scoring one configuration: cross-validation on the training split, then a test score.

Selection only ever sees the cross-validated score on the training split; the
held-out test score is recorded for the user, never optimised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from search.errors import InputError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from search.data import Dataset

#: Seed of the cross-validation folds: every configuration sees the same folds.
FOLD_SEED = 0


class MetricError(InputError):
    """The metric is not a scikit-learn scorer name."""


def check_metric(metric: str) -> None:
    """Fail early, with the known names, for a metric scikit-learn has no scorer for."""
    from sklearn.metrics import get_scorer_names

    if metric not in get_scorer_names():
        examples = ", ".join(n for n in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "neg_log_loss"))
        raise MetricError(f"unknown metric {metric!r}; use a scikit-learn scorer name such as {examples}")


@dataclass
class Evaluation:
    """What one configuration scored; ``metrics`` are the names logged to MLflow."""

    cv_score: float
    cv_std: float
    fold_scores: list[float]
    metrics: dict[str, float] = field(default_factory=dict)
    model: Any = None


def cross_validate(
    pipeline: Pipeline,
    data: Dataset,
    metric: str = "accuracy",
    cv: int = 5,
    on_fold: Callable[[int, float], None] | None = None,
) -> Evaluation:
    """Stratified k-fold score of ``pipeline`` on the training split.

    ``on_fold(step, running_mean)`` is called after each fold so a caller can
    report to an Optuna trial and stop early; it may raise to abandon the rest.
    """
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import StratifiedKFold

    scorer = get_scorer(metric)
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=FOLD_SEED)
    scores: list[float] = []
    for step, (fit_rows, score_rows) in enumerate(folds.split(data.X_train, data.y_train)):
        fold_model = clone(pipeline).fit(data.X_train[fit_rows], data.y_train[fit_rows])
        scores.append(float(scorer(fold_model, data.X_train[score_rows], data.y_train[score_rows])))
        if on_fold is not None:
            on_fold(step, float(np.mean(scores)))
    return Evaluation(cv_score=float(np.mean(scores)), cv_std=float(np.std(scores)), fold_scores=scores)


def fit_and_score(pipeline: Pipeline, data: Dataset, metric: str = "accuracy") -> tuple[Any, dict[str, float]]:
    """Fit on the whole training split; train and test scores as the original scripts named them."""
    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    started = time.perf_counter()
    model = clone(pipeline).fit(data.X_train, data.y_train)
    metrics = {"fit_time": time.perf_counter() - started}
    for name in dict.fromkeys(("accuracy", metric)):
        scorer = get_scorer(name)
        metrics[f"train_{name}"] = float(scorer(model, data.X_train, data.y_train))
        metrics[f"test_{name}"] = float(scorer(model, data.X_test, data.y_test))
    return model, metrics


def evaluate(
    pipeline: Pipeline,
    data: Dataset,
    metric: str = "accuracy",
    cv: int = 5,
    on_fold: Callable[[int, float], None] | None = None,
) -> Evaluation:
    """Cross-validate, then fit on the training split and score train and test."""
    result = cross_validate(pipeline, data, metric, cv, on_fold)
    result.model, result.metrics = fit_and_score(pipeline, data, metric)
    result.metrics[f"cv_{metric}"] = result.cv_score
    result.metrics[f"cv_{metric}_std"] = result.cv_std
    return result
