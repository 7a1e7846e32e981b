"""``search.tune(X, y)``: the study ``search study`` runs, from a notebook, on data in memory.

The same study, tracking, best model, registry and lineage as the command
line; what differs is what a notebook needs: errors are exceptions (one line
each), Ctrl-C (the kernel's interrupt) raises `KeyboardInterrupt` once every
finished trial is saved and logged, a second one raises at once instead of
ending the process, Optuna's INFO lines stay quiet, and the progress bar is
the notebook's own.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from search import defaults
from search.data import FRAME_PREFIX, DataError, DataSpec
from search.evaluation import Scoring, delivered_rows
from search.interrupts import embedded
from search.plugins import ALL_MODELS
from search.report import ConsoleReporter, interrupted_line
from search.stores.tracking_store import mlflow_quieted
from search.study.config import StudyConfig
from search.study.runner import run_study
from search.text import warnings_as_lines_within
from search.trials import seed_of

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from search.deliverable.champion import Registration
    from search.study.outcome import StudyOutcome


@dataclass(frozen=True)
class TuneResult:
    """What `tune` found: the best configuration, its scores, the fitted model, and where it is all kept.

    Named as scikit-learn's searches name theirs (``best_params``, ``best_score``) and Optuna's studies
    (``best_trial``); ``best_params`` are the estimator's parameters, ``best_trial.params`` Optuna's draw.
    """

    #: The Optuna study (every trial, resumable with the same call), and its best trial.
    study: optuna.study.Study
    best_trial: optuna.trial.FrozenTrial
    #: The best trial's model family and its estimator parameters.
    best_model_name: str
    best_params: dict[str, Any]
    #: The metric optimised (``cv_accuracy``, ``cv_rmse``) and the best trial's value of it.
    metric: str
    best_score: float
    #: The best configuration fitted on the training split, scored on the held-out test split.
    test_score: float | None
    #: The study's MLflow run (each trial is a child run of it) and experiment.
    run_id: str
    experiment_id: str
    #: The logged best model (``models:/m-…``), and its registration with ``register=``.
    model_uri: str | None
    registration: Registration | None
    _outcome: StudyOutcome = field(repr=False, compare=False)

    def __repr__(self) -> str:
        """What a notebook shows for ``result``: the findings and where they are, never the data it holds."""
        test = "" if self.test_score is None else f", test_score={self.test_score:.4f}"
        registered = "" if self.registration is None else f", registration={self.registration.describe()!r}"
        return (f"TuneResult(study={self.study.study_name!r}, {len(self.study.trials)} trials, "
                f"best_model_name={self.best_model_name!r}, {self.metric}={self.best_score:.4f}{test}, "
                f"best_params={self.best_params!r}, best_model=<fitted pipeline, .best_model>, "
                f"run_id={self.run_id!r}, model_uri={self.model_uri!r}{registered})")

    @functools.cached_property
    def best_model(self) -> Pipeline:
        """The best configuration, fitted as the logged model is (on every row unless ``refit_all_rows=False``),
        ready to ``predict`` raw rows like ``X``'s. With ``log_model=False`` it is fitted here, when first used."""
        delivered = self._outcome.delivered
        if delivered is not None and delivered.model is not None:
            return delivered.model
        plan, best = self._outcome.plan, self.best_trial
        spec, params = plan.space.decode(best.params)
        rows = delivered_rows(plan.data, refit_all_rows=plan.config.refit_all_rows)
        return spec.build(params, seed_of(best), plan.data.columns).fit(*rows)


def tune(
    X: pd.DataFrame | np.ndarray,
    y: pd.Series | np.ndarray | Sequence[Any] | None = None,
    *,
    target: str | None = None,
    models: str | Sequence[str] = (ALL_MODELS,),
    n_trials: int | None = None,
    timeout: float | None = None,
    trial_timeout: float | None = None,
    task: str | None = None,
    metric: str | None = None,
    cv: int = defaults.CV_FOLDS,
    test_size: float = defaults.TEST_SIZE,
    split_seed: int = defaults.SPLIT_SEED,
    seed: int | None = None,
    study_name: str | None = None,
    storage: str | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    register: str | None = None,
    sampler: str = defaults.SAMPLER,
    pruner: str = defaults.PRUNER,
    log_model: bool = defaults.LOG_MODEL,
    refit_all_rows: bool = defaults.REFIT_ALL_ROWS,
    figures: bool = defaults.FIGURES,
    progress: bool = True,
) -> TuneResult:
    """Tune ``models`` on ``X`` and ``y`` (or on the DataFrame ``X`` and its column ``target``); log it all to MLflow.

    Calling it again with the same data and arguments resumes the study and adds ``n_trials`` more.
    Arguments are those of ``search study`` (see ``search study --help``); ``models`` (a name, or a
    list of names) defaults to every model that fits the task.

    Example::

        >>> import search
        >>> from palmerpenguins import load_penguins
        >>> result = search.tune(load_penguins(), target="species", models=["knn"], n_trials=5,
        ...                      figures=False, progress=False)  # doctest: +SKIP
        >>> result.best_params, result.best_score                # doctest: +SKIP
        ({'n_neighbors': 7, 'weights': 'distance', 'p': 1}, 0.9883)
        >>> result.best_model.predict(load_penguins().drop(columns="species").head(2))  # doctest: +SKIP
        array(['Adelie', 'Adelie'], dtype=object)

    Raises:
        search.errors.InputError: a bad argument or unusable data (one line; nothing is created).
        KeyboardInterrupt: interrupted; every finished trial is saved and logged.
    """
    import optuna

    frame, target = _table(X, y, target)
    config = StudyConfig(
        models=(models,) if isinstance(models, str) else tuple(models),
        n_trials=n_trials, timeout=timeout, trial_timeout=trial_timeout,
        study_name=study_name, storage=storage or defaults.STORAGE, tracking=tracking_uri, experiment=experiment,
        sampler=sampler, pruner=pruner, seed=seed, scoring=Scoring(metric, cv), log_model=log_model, figures=figures,
        register=register, refit_all_rows=refit_all_rows,
        data=DataSpec(FRAME_PREFIX + _digest(frame), target, test_size, split_seed, task, frame=frame),
    )
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        # Our own lines say what happened; MLflow's would repeat them (or quote a password); a warning is one
        # line, not scikit-learn's file and line. Then the kernel's environment, loggers and format as they were.
        with mlflow_quieted(), warnings_as_lines_within("search.tune"), embedded():
            outcome = run_study(config, ConsoleReporter(bar=progress, quiet=not progress))
    finally:
        optuna.logging.set_verbosity(verbosity)
    if outcome.interrupted:
        raise KeyboardInterrupt(f"search.tune: {interrupted_line(outcome)}")
    return _result(outcome)


def _table(X: Any, y: Any, target: str | None) -> tuple[pd.DataFrame, str]:
    """One table holding the features and the target column, and that column's name."""
    import pandas as pd

    if X is None or isinstance(X, (str, os.PathLike)):
        raise DataError(f"X is {'None' if X is None else 'a path'}: give the features as a DataFrame or an array "
                        "(read a CSV file with pandas.read_csv, or study it with 'search study --data FILE')")
    if y is None:
        if target is None or not isinstance(X, pd.DataFrame):
            raise DataError("give the target: tune(X, y), or tune(frame, target='column')")
        return _text_columns(X), _text(target)
    if target is not None:
        raise DataError("give the target once: as y, or as the name of a column of X, not both")
    features = _text_columns(X) if isinstance(X, pd.DataFrame) else pd.DataFrame(X).rename(columns=lambda i: f"x{i}")
    name = str(getattr(y, "name", None) or "target")
    if name in features.columns:
        raise DataError(f"y is named {name!r}, like a column of X: rename one of them")
    if len(y) != len(features):
        raise DataError(f"X has {len(features)} rows and y {len(y)}: give one target per row")
    features[name] = pd.Series(y).to_numpy()
    return features, name


def _text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its column names as text, as a CSV file has them (``99`` → ``"99"``, ``("a", "b")`` → ``"a_b"``):
    the preprocessing names columns by text, and a number or a tuple would match none."""
    renamed = frame.copy()
    renamed.columns = [_text(column) for column in frame.columns]
    return renamed


def _text(column: Any) -> str:
    return "_".join(map(str, column)) if isinstance(column, tuple) else str(column)


def _digest(frame: pd.DataFrame) -> str:
    """A short digest of the table's contents and column names: the same data resumes the same study."""
    import pandas as pd

    content = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    content.update("\x1f".join(map(str, frame.columns)).encode())
    return content.hexdigest()[:12]


def _result(outcome: StudyOutcome) -> TuneResult:
    plan, study, delivered = outcome.plan, outcome.study, outcome.delivered
    best = study.best_trial
    spec, params = plan.space.decode(best.params)
    scoring = plan.config.scoring
    test = (delivered.metrics.get(f"test_{scoring.name}") if delivered is not None else None)
    return TuneResult(
        study=study, best_trial=best, best_model_name=spec.name, best_params=params, metric=scoring.cv_name,
        best_score=float(best.value), test_score=test, run_id=outcome.study_run_id,
        experiment_id=outcome.experiment_id,
        model_uri=f"models:/{delivered.model_id}" if delivered is not None and delivered.model_id else None,
        registration=delivered.registration if delivered is not None else None, _outcome=outcome,
    )
