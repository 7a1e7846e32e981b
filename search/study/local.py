"""The local driver: this process and ``workers - 1`` worker processes it starts, sharing one quota.

The worker processes are forked while that is safe (else spawned). Each opens
the study with its own storage connection, draws from its own seed, and logs
its trials itself; a worker that dies is noticed at once (`WorkerPool`), its
slots go back to the quota and its trial is failed and queued again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from search.common.processes import process_context
from search.interrupts import Interrupts
from search.stores.optuna_storage import open_storage
from search.study.callbacks import study_callback
from search.study.drivers import Ran
from search.study.execution import run_quota
from search.study.limits import trials_budget
from search.study.orphans import fail_orphans
from search.study.plan import open_study
from search.study.progress import ProgressWatcher
from search.study.workers import Quota, WorkerPool, trial_claim, worker_id
from search.trials import counts_toward_quota, worker_of

if TYPE_CHECKING:
    from search.study.outcome import StudyOutcome
    from search.study.plan import StudyPlan
    from search.study.progress import Reporter
    from search.tracking import MLflowCallback

#: How long a worker process's end waits for MLflow to take what it logged.
FLUSH_SECONDS = 30.0


class LocalWorkers:
    """This process plus ``config.workers - 1`` worker processes on this machine."""

    def check(self, plan: StudyPlan) -> None:
        """Nothing beyond the config's own checks."""

    def run(self, outcome: StudyOutcome, callback: MLflowCallback, reporter: Reporter) -> Ran:
        plan, study = outcome.plan, outcome.study
        config = plan.config
        context = process_context()
        budget = trials_budget(config.timeout, outcome.timings.get("prepare", 0.0))  # --timeout counts from the start
        quota = Quota(config.n_trials, budget, config.workers, context)
        pool = None
        if config.workers > 1:
            def on_death(slot: int, worker: str) -> None:
                done = sum(1 for t in study.get_trials(deepcopy=False)
                           if worker_of(t) == worker and counts_toward_quota(t))
                quota.settle_dead(slot, done)
                outcome.recovered.extend(fail_orphans(study, dead=[worker]))

            pool = WorkerPool(context, _work_in_process, (plan, outcome.experiment_id, outcome.run_tags, quota),
                              range(1, config.workers), on_death=on_death)

        def stop() -> None:
            quota.stop()
            if pool is not None:
                pool.signal()  # they end the trial they are fitting, as this process does

        def own() -> set[str]:
            return {worker_id(), *(pool.worker_ids() if pool is not None else ())}

        ran = Ran()
        started = time.monotonic()
        interrupts = Interrupts(stop=stop, second=pool.kill if pool is not None else None)
        watcher = ProgressWatcher(study, reporter, own, quota.total)
        with interrupts, watcher:
            try:
                run_quota(study, plan, quota, 0, callback, interrupts)
            except KeyboardInterrupt:
                stop()
            except BaseException as error:  # reported after everything opened is ended
                stop()
                ran.failure = error
            finally:
                worker_errors = pool.join() if pool is not None else []
        outcome.timings["trials"] = time.monotonic() - started
        outcome.added = quota.finished
        outcome.interrupted = interrupts.signalled
        outcome.worker_errors = [str(error) for error in worker_errors]
        ran.own = own()
        return ran


def _work_in_process(slot: int, plan: StudyPlan, experiment_id: str, tags: Mapping[str, str], quota: Quota) -> None:
    """A worker process: the same study, its own storage connection and MLflow writes."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = open_study(plan, open_storage(plan.config.storage, heartbeat=True, claim=trial_claim), slot)
    callback = study_callback(plan.config, experiment_id, seed=plan.seed, background=False, tags=tags)
    with Interrupts(stop=quota.stop, worker=True) as interrupts:
        try:
            run_quota(study, plan, quota, slot, callback, interrupts)
        finally:
            callback.close(timeout=FLUSH_SECONDS)
