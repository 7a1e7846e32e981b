"""One worker's loop: take a slot of the command's quota, run one trial, log it, until the quota says stop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.fit_process import FitCrashed, FitTimeout
from search.study.limits import trial_limit
from search.study.objective import make_objective
from search.study.workers import run_trials

if TYPE_CHECKING:
    import optuna

    from search.interrupts import Interrupts
    from search.study.plan import StudyPlan
    from search.study.workers import Quota
    from search.tracking import MLflowCallback


def run_quota(
    study: optuna.study.Study,
    plan: StudyPlan,
    quota: Quota,
    slot: int,
    callback: MLflowCallback | None,
    interrupts: Interrupts,
) -> None:
    """Take slots from ``quota`` as worker ``slot`` and run a trial for each, logging each with ``callback``."""
    from threadpoolctl import threadpool_limits

    trial_timeout = plan.config.trial_timeout
    objective = make_objective(plan.space, plan.data, plan.config.scoring, plan.seed, interrupts,
                               limit=lambda: trial_limit(trial_timeout, quota.seconds_left()))
    callbacks = [callback] if callback is not None else []
    # A configuration that fails (bad values, its time limit, a crash of its fit) fails its trial alone.
    failures = (ValueError, FitTimeout, FitCrashed)

    def run_one() -> None:
        study.optimize(objective, n_trials=1, callbacks=callbacks, catch=failures, gc_after_trial=False)

    # Trials are the unit of parallelism: one BLAS/OpenMP thread each. Under load, OpenMP's
    # spinning threads made a kNN fit 10-20x slower here.
    with threadpool_limits(limits=1):
        run_trials(quota, slot, plan.config.n_jobs, run_one)
