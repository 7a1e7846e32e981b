"""The objective of a study: the mean cross-validated score on the training split, reported fold by fold.

A trial fits its folds and nothing else: the test score is measured once, for the model delivered.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING

from search.evaluation import score_by_folds, smallest_fold
from search.fit_process import run_fit
from search.interrupts import Interrupted, Interrupts
from search.study.workers import worker_id
from search.tracking import METRICS_ATTRIBUTE_KEY, record_failures
from search.trials import TRIAL_ATTRIBUTE_KEY

if TYPE_CHECKING:
    import optuna

    from models import SearchSpace
    from search.data import Dataset
    from search.evaluation import Evaluation, Scoring
    from search.study.limits import TrialLimit


def make_objective(
    space: SearchSpace,
    data: Dataset,
    scoring: Scoring,
    seed: int,
    interrupts: Interrupts | None = None,
    limit: Callable[[], TrialLimit] | None = None,
) -> Callable[[optuna.trial.Trial], float]:
    """The objective of a study over ``space``.

    Each configuration is fitted in a child process (`search.fit_process`),
    so ``limit()`` (the trial's time limit, taken when it starts) and a
    signal stop it whatever code it runs. Each fold's running mean goes to
    ``trial.report`` so a pruner can stop the trial; each fold's own score is
    kept as the ``fold_<metric>`` step metric. The storage is never written
    to while a signal can cut the write short.
    """
    import optuna

    fit_rows = smallest_fold(data, scoring)
    fold_name = f"fold_{scoring.name}"
    me = worker_id()
    interrupts = interrupts or Interrupts(stop=lambda: None)

    @record_failures
    def objective(trial: optuna.trial.Trial) -> float:
        trial.set_user_attr(TRIAL_ATTRIBUTE_KEY, {"seed": seed, "worker": me})
        spec, params = space.sample(trial)
        problem = spec.cannot_fit(params, fit_rows)
        if problem is not None:  # failed with its reason, as the estimator would (or should) have
            raise ValueError(problem)
        pipeline = spec.build(params, seed, data.columns)
        scores: list[float] = []

        def after_fold(score: float) -> None:
            scores.append(score)
            with interrupts.writing():
                trial.report(statistics.fmean(scores), len(scores) - 1)
                if interrupts.signalled:
                    raise Interrupted()
                if trial.should_prune():
                    trial.set_user_attr(METRICS_ATTRIBUTE_KEY, {fold_name: list(scores)})
                    raise optuna.TrialPruned()

        def fit(send: Callable[[float], None]) -> Evaluation:  # in the child: the trial's folds
            return score_by_folds(pipeline, data, scoring, on_fold=lambda step, so_far: send(so_far[-1]))

        seconds, why = limit() if limit is not None else (None, "")
        with interrupts.fitting():
            result = run_fit(fit, limit=seconds, on_message=after_fold, should_stop=lambda: interrupts.signalled,
                             why=why)
        trial.set_user_attr(METRICS_ATTRIBUTE_KEY, {**result.metrics, fold_name: result.fold_scores})
        return result.cv_score

    return objective
