"""Scoring one configuration: cross-validation on the training split, then a test score.

Selection only ever sees the cross-validated score on the training split; the
held-out test score is recorded for the user, never optimised.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from search import defaults
from search.errors import InputError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from search.data import Dataset

#: Seed of the cross-validation folds: every configuration sees the same folds.
FOLD_SEED = 0


class MetricError(InputError):
    """The metric is not a scikit-learn scorer name."""


@dataclass(frozen=True)
class Scoring:
    """How a configuration is scored: what ``--metric`` and ``--cv`` say."""

    metric: str = defaults.METRIC
    cv: int = defaults.CV_FOLDS

    def __post_init__(self) -> None:
        if self.cv < 2:
            raise InputError(f"--cv must be at least 2 folds, got {self.cv}")
        from sklearn.metrics import get_scorer_names

        if self.metric not in get_scorer_names():
            examples = "accuracy, balanced_accuracy, f1_macro, roc_auc, neg_log_loss"
            raise MetricError(f"unknown metric {self.metric!r}; use a scikit-learn scorer name such as {examples}")

    def check(self, data: Dataset) -> None:
        """Refuse, before any trial, a fold count or a metric these data cannot support.

        The metric is tried on a constant classifier: a scorer that cannot score
        these labels (a binary-only one on several classes) fails the same way
        for every real model, so each trial would fail.
        """
        import warnings

        import numpy as np
        from sklearn.dummy import DummyClassifier
        from sklearn.metrics import get_scorer

        classes, counts = np.unique(data.y_train, return_counts=True)
        if self.cv > counts.min():
            smallest = str(classes[counts.argmin()])
            raise InputError(
                f"--cv {self.cv} needs at least {self.cv} samples of every class in the training split of "
                f"{data.source}; class {smallest!r} has {counts.min()}"
            )
        constant = DummyClassifier(strategy="prior").fit(data.X_train, data.y_train)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                get_scorer(self.metric)(constant, data.X_train, data.y_train)
        except (ValueError, TypeError, AttributeError) as error:
            reason = " ".join(str(error).split())
            several = self.metric.startswith("roc_auc") and len(classes) > 2
            hint = f"; with {len(classes)} classes use e.g. {self.metric}_ovr" if several else ""
            raise MetricError(f"metric {self.metric!r} cannot score {data.source}: {reason}{hint}") from None

    @property
    def cv_name(self) -> str:
        """The metric a study optimises and MLflow shows, e.g. ``cv_accuracy``."""
        return f"cv_{self.metric}"


@dataclass
class Evaluation:
    """What one configuration scored; ``metrics`` are the names logged to MLflow."""

    cv_score: float
    cv_std: float
    fold_scores: list[float]
    metrics: dict[str, float] = field(default_factory=dict)
    model: Any = None


def smallest_fold(data: Dataset, scoring: Scoring) -> int:
    """The fewest training rows a cross-validation fold fits on."""
    rows = len(data.y_train)
    return rows - math.ceil(rows / scoring.cv)


def cross_validate(
    pipeline: Pipeline,
    data: Dataset,
    scoring: Scoring,
    on_fold: Callable[[int, list[float]], None] | None = None,
) -> Evaluation:
    """Stratified k-fold score of ``pipeline`` on the training split.

    ``on_fold(step, scores_so_far)`` is called after each fold so a caller can
    report to an Optuna trial and stop early; it may raise to abandon the rest.
    """
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import StratifiedKFold

    scorer = get_scorer(scoring.metric)
    folds = StratifiedKFold(n_splits=scoring.cv, shuffle=True, random_state=FOLD_SEED)
    scores: list[float] = []
    for step, (fit_rows, score_rows) in enumerate(folds.split(data.X_train, data.y_train)):
        fold_model = clone(pipeline).fit(data.X_train[fit_rows], data.y_train[fit_rows])
        scores.append(float(scorer(fold_model, data.X_train[score_rows], data.y_train[score_rows])))
        if on_fold is not None:
            on_fold(step, scores)
    return Evaluation(cv_score=float(np.mean(scores)), cv_std=float(np.std(scores)), fold_scores=scores)


def fit_and_score(
    pipeline: Pipeline, data: Dataset, metric: str = defaults.METRIC, named: bool = False
) -> tuple[Any, dict[str, float]]:
    """Fit on the whole training split; train and test scores as the original scripts named them.

    ``named``: fit on the features with their column names, so the model knows
    them (a model someone will load and feed a table to).
    """
    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    X_train, X_test = (data.features("train"), data.features("test")) if named else (data.X_train, data.X_test)
    started = time.perf_counter()
    model = clone(pipeline).fit(X_train, data.y_train)
    metrics = {"fit_time": time.perf_counter() - started}
    for name in dict.fromkeys(("accuracy", metric)):
        scorer = get_scorer(name)
        metrics[f"train_{name}"] = float(scorer(model, X_train, data.y_train))
        metrics[f"test_{name}"] = float(scorer(model, X_test, data.y_test))
    return model, metrics


def evaluate(
    pipeline: Pipeline,
    data: Dataset,
    scoring: Scoring,
    on_fold: Callable[[int, list[float]], None] | None = None,
    named: bool = False,
) -> Evaluation:
    """Cross-validate, then fit on the training split and score train and test."""
    result = cross_validate(pipeline, data, scoring, on_fold)
    result.model, result.metrics = fit_and_score(pipeline, data, scoring.metric, named)
    result.metrics[scoring.cv_name] = result.cv_score
    result.metrics[f"{scoring.cv_name}_std"] = result.cv_std
    return result
