"""Scoring one configuration: cross-validation on the training split; a test score for what is delivered.

Selection only ever sees the cross-validated score on the training split. A
trial is its folds and nothing more; the held-out test score is measured once,
for the configuration that is delivered (`deliverable_fit`), or for the one a
`search run` fits (`evaluate`), and is recorded for the user, never optimised.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from search import defaults
from search.defaults import Task
from search.errors import InputError
from search.tasks import DEFAULT_METRIC

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.model_selection import BaseCrossValidator
    from sklearn.pipeline import Pipeline

    from search.data import Dataset

#: Seed of the cross-validation folds: every configuration sees the same folds.
FOLD_SEED = 0


class MetricError(InputError):
    """The metric is not a scikit-learn scorer name."""


#: Short names for scikit-learn's error scorers (which are negated so that higher is better).
ALIASES = {"rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error",
           "mse": "neg_mean_squared_error"}


def metric_task(metric: str) -> str:
    """What a scikit-learn scorer scores: "classification", "regression" or "clustering" (from its metric's module)."""
    from sklearn.metrics import get_scorer

    module = getattr(getattr(get_scorer(ALIASES.get(metric, metric)), "_score_func", None), "__module__", "")
    if module.endswith("._regression"):
        return "regression"
    if ".cluster" in module:
        return "clustering"
    return "classification"


@dataclass(frozen=True)
class Scoring:
    """How a configuration is scored: what ``--metric`` and ``--cv`` say.

    ``metric`` is a scikit-learn scorer name or one of `ALIASES`; None means
    the task's default (`for_task`). An error scorer (``neg_...``) is shown,
    logged and optimised as the error itself: ``rmse``, lower is better.
    """

    metric: str | None = None
    cv: int = defaults.CV_FOLDS

    def __post_init__(self) -> None:
        if isinstance(self.cv, bool) or not isinstance(self.cv, numbers.Integral):
            raise InputError(f"--cv must be a whole number of folds, got {self.cv!r}")
        if self.cv < 2:
            raise InputError(f"--cv must be at least 2 folds, got {self.cv}")
        if self.metric is None:
            return
        from sklearn.metrics import get_scorer_names

        if self.scorer_name not in get_scorer_names():
            examples = "accuracy, balanced_accuracy, f1_macro, roc_auc; for regression rmse, mae, r2"
            raise MetricError(f"unknown metric {self.metric!r}; use a scikit-learn scorer name such as {examples}")

    def for_task(self, task: str) -> Scoring:
        """This scoring with its metric named: the task's default unless one was given."""
        return self if self.metric is not None else Scoring(DEFAULT_METRIC[Task(task)], self.cv)

    @property
    def scorer_name(self) -> str:
        return ALIASES.get(self.metric or "", self.metric or "")

    @property
    def name(self) -> str:
        """The metric as users read it: ``accuracy``, ``rmse``; an error scorer without its ``neg_``."""
        metric = self.metric or ""
        return metric if metric in ALIASES else metric.removeprefix("neg_")

    @property
    def lower_is_better(self) -> bool:
        return self.scorer_name.startswith("neg_")

    @property
    def direction(self) -> str:
        """The Optuna study direction."""
        return "minimize" if self.lower_is_better else "maximize"

    def score(self, model: Pipeline, X: pd.DataFrame, y: pd.Series) -> float:
        """The metric of ``model`` on ``X``, ``y``, as users read it (an error positive)."""
        from sklearn.metrics import get_scorer

        value = float(get_scorer(self.scorer_name)(model, X, y))
        return -value if self.lower_is_better else value

    def check(self, data: Dataset) -> None:
        """Refuse, before any trial, a fold count or a metric these data cannot support.

        The metric is tried on a constant model: a scorer that cannot score
        these labels (a binary-only one on several classes) fails the same way
        for every real model, so each trial would fail.
        """
        import warnings

        import numpy as np
        from sklearn.dummy import DummyClassifier, DummyRegressor

        task = metric_task(self.scorer_name)
        if task != data.task:
            examples = ("accuracy, balanced_accuracy, f1_macro or roc_auc" if data.task == "classification"
                        else "rmse, mae or r2")
            raise MetricError(f"metric {self.metric!r} scores {task}, and {data.source} is a {data.task} problem: "
                              f"use a {data.task} scorer such as {examples}")
        if data.task == "classification":
            classes, counts = np.unique(data.y_train.astype(str), return_counts=True)
            if self.cv > counts.min():
                smallest = str(classes[counts.argmin()])
                raise InputError(
                    f"--cv {self.cv} needs at least {self.cv} samples of every class in the training split of "
                    f"{data.source}; class {smallest!r} has {counts.min()}{_fewer_folds(counts.min())}"
                )
            constant = DummyClassifier(strategy="prior")
        else:
            classes = []
            if self.cv > len(data.y_train):
                raise InputError(f"--cv {self.cv} needs at least {self.cv} rows in the training split of "
                                 f"{data.source}; it has {len(data.y_train)}{_fewer_folds(len(data.y_train))}")
            constant = DummyRegressor()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.score(constant.fit(np.zeros((len(data.y_train), 1)), data.y_train),
                           np.zeros((len(data.y_train), 1)), data.y_train)
        except (ValueError, TypeError, AttributeError) as error:
            reason = " ".join(str(error).split())
            several = self.scorer_name.startswith("roc_auc") and len(classes) > 2
            hint = f"; with {len(classes)} classes use e.g. {self.metric}_ovr" if several else ""
            raise MetricError(f"metric {self.metric!r} cannot score {data.source}: {reason}{hint}") from None

    @property
    def cv_name(self) -> str:
        """The metric a study optimises and MLflow shows, e.g. ``cv_accuracy``, ``cv_rmse``."""
        return f"cv_{self.name}"


@dataclass
class Evaluation:
    """What one configuration scored; ``metrics`` are the names logged to MLflow."""

    cv_score: float
    cv_std: float
    fold_scores: list[float]
    metrics: dict[str, float] = field(default_factory=dict)
    model: Pipeline | None = None


def smallest_fold(data: Dataset, scoring: Scoring) -> int:
    """The fewest training rows a cross-validation fold fits on."""
    rows = len(data.y_train)
    return rows - math.ceil(rows / scoring.cv)


def folds(data: Dataset, scoring: Scoring) -> BaseCrossValidator:
    """The folds every configuration is scored on: stratified by class for classification."""
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = StratifiedKFold if data.task == "classification" else KFold
    return splitter(n_splits=scoring.cv, shuffle=True, random_state=FOLD_SEED)


def score_by_folds(
    pipeline: Pipeline,
    data: Dataset,
    scoring: Scoring,
    on_fold: Callable[[int, list[float]], None] | None = None,
) -> Evaluation:
    """The k-fold score of ``pipeline`` on the training split.

    ``on_fold(step, scores_so_far)`` is called after each fold so a caller can
    report to an Optuna trial and stop early; it may raise to abandon the rest.
    """
    import numpy as np
    from sklearn.base import clone

    X, y = data.X_train, data.y_train
    scores: list[float] = []
    fit_seconds: list[float] = []
    for step, (fit_rows, score_rows) in enumerate(folds(data, scoring).split(X, y)):
        started = time.perf_counter()
        fold_model = clone(pipeline).fit(X.iloc[fit_rows], y.iloc[fit_rows])
        fit_seconds.append(time.perf_counter() - started)
        scores.append(scoring.score(fold_model, X.iloc[score_rows], y.iloc[score_rows]))
        if on_fold is not None:
            on_fold(step, scores)
    cv_score, cv_std = float(np.mean(scores)), float(np.std(scores))
    metrics = {scoring.cv_name: cv_score, f"{scoring.cv_name}_std": cv_std, "fit_time": float(np.mean(fit_seconds))}
    return Evaluation(cv_score=cv_score, cv_std=cv_std, fold_scores=scores, metrics=metrics)


def fit_and_score(pipeline: Pipeline, data: Dataset, scoring: Scoring) -> tuple[Pipeline, dict[str, float]]:
    """Fit on the whole training split; train and test scores of the task's usual metrics and the study's."""
    from sklearn.base import clone

    started = time.perf_counter()
    model = clone(pipeline).fit(data.X_train, data.y_train)
    metrics = {"fit_time": time.perf_counter() - started}
    usual = ("accuracy",) if data.task == "classification" else ("rmse", "r2")
    for metric in dict.fromkeys((*usual, scoring.metric)):
        reported = Scoring(metric, scoring.cv)
        metrics[f"train_{reported.name}"] = reported.score(model, data.X_train, data.y_train)
        metrics[f"test_{reported.name}"] = reported.score(model, data.X_test, data.y_test)
    return model, metrics


def evaluate(
    pipeline: Pipeline,
    data: Dataset,
    scoring: Scoring,
    on_fold: Callable[[int, list[float]], None] | None = None,
) -> Evaluation:
    """Cross-validate, then fit on the training split and score train and test (a `search run`)."""
    result = score_by_folds(pipeline, data, scoring, on_fold)
    result.model, scores = fit_and_score(pipeline, data, scoring)
    result.metrics = {**scores, **result.metrics, "fit_time": scores["fit_time"]}
    return result


def deliverable_fit(pipeline: Pipeline, data: Dataset, scoring: Scoring, *,
                    refit_all_rows: bool = True) -> tuple[Pipeline, dict[str, float]]:
    """The delivered model and its scores: fitted on the training split and scored on the test split, then
    (``refit_all_rows``) fitted again on every row, training and test, as ``*SearchCV(refit=True)`` does.

    The test score is the held-out estimate of the delivered model; with every row it is fitted on a
    third more data than the score saw (at the default split), which seldom makes it worse.
    """
    from sklearn.base import clone

    model, metrics = fit_and_score(pipeline, data, scoring)
    if refit_all_rows:
        started = time.perf_counter()
        model = clone(pipeline).fit(*delivered_rows(data, refit_all_rows=True))
        metrics["fit_time"] = time.perf_counter() - started
    return model, metrics


def delivered_rows(data: Dataset, *, refit_all_rows: bool) -> tuple[pd.DataFrame, pd.Series]:
    """The rows the delivered model is fitted on: every row (training and test), or the training split."""
    import pandas as pd

    if not refit_all_rows:
        return data.X_train, data.y_train
    return pd.concat([data.X_train, data.X_test]), pd.concat([data.y_train, data.y_test])


def _fewer_folds(available: int) -> str:
    """What a table too small for the folds asked for can do instead."""
    return f" (try --cv {available})" if available >= 2 else " (too few to cross-validate: more rows are needed)"
