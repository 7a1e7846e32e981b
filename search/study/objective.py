"""The objective of a study: the mean cross-validated score on the training split, reported fold by fold."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING

from search.evaluation import evaluate, smallest_fold
from search.interrupts import Interrupted, Interrupts
from search.study.workers import worker_id
from search.tracking import METRICS_ATTRIBUTE_KEY, record_failures
from search.trials import TRIAL_ATTRIBUTE_KEY

if TYPE_CHECKING:
    import optuna

    from models import SearchSpace
    from search.data import Dataset
    from search.evaluation import Scoring


def make_objective(
    space: SearchSpace,
    data: Dataset,
    scoring: Scoring,
    seed: int,
    interrupts: Interrupts | None = None,
) -> Callable[[optuna.trial.Trial], float]:
    """The objective of a study over ``space``.

    Each fold's running mean goes to ``trial.report`` so a pruner can stop
    the trial; each fold's own score is kept as the ``fold_<metric>`` step
    metric. With ``interrupts``, a signal stops the trial inside a fit at
    once, and otherwise after the fold (never while it writes to the storage).
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

        def after_fold(step: int, scores: list[float]) -> None:
            with interrupts.writing():
                trial.report(statistics.fmean(scores), step)
                if interrupts.signalled:
                    raise Interrupted()
                if trial.should_prune():
                    trial.set_user_attr(METRICS_ATTRIBUTE_KEY, {fold_name: list(scores)})
                    raise optuna.TrialPruned()

        with interrupts.fitting():
            result = evaluate(spec.build(params, seed, data.columns), data, scoring, on_fold=after_fold)
        trial.set_user_attr(METRICS_ATTRIBUTE_KEY, {**result.metrics, fold_name: result.fold_scores})
        return result.cv_score

    return objective
