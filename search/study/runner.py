"""Running (or resuming) a study: inputs checked, stores and parent run made once, then workers, then repair.

The one implementation behind ``search study`` and the CML study job.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from search.seeds import offset, seed_or_drawn
from search.study.config import SETTINGS_THAT_MUST_MATCH, StudyConfig, StudyError
from search.study.interrupts import Interrupts
from search.study.objective import TRIAL_ATTRIBUTE_KEY, make_objective, worker_id
from search.study.progress import ProgressWatcher, Reporter
from search.study.samplers import make_pruner, make_sampler
from search.study.workers import Quota, WorkerPool, process_context, run_trials

if TYPE_CHECKING:
    import optuna

    from search.data import Dataset
    from search.tracking import MLflowCallback, SyncReport

#: Study user attribute holding the settings a resume must match.
SETTINGS_ATTRIBUTE_KEY = "settings"
#: How long the end of a command waits for MLflow to take what is queued.
FLUSH_SECONDS = 30.0


@dataclass
class StudyPlan:
    """A study about to run: the checked config and what was derived from it."""

    config: StudyConfig
    data: Dataset
    seed: int
    tracking_uri: str
    experiment: str
    trials_before: int = 0


@dataclass
class StudyOutcome:
    """What a finished (or interrupted) study command did, for the summary."""

    plan: StudyPlan
    study: optuna.study.Study
    added: int
    experiment_id: str
    study_run_id: str
    unlogged: list[int] = field(default_factory=list)
    repaired: SyncReport | None = None
    interrupted: bool = False
    worker_errors: list[str] = field(default_factory=list)


def plan_study(config: StudyConfig) -> StudyPlan:
    """Check what needs no store (the data above all), so a bad input creates nothing."""
    from search.stores.urls import resolve_tracking_uri

    data = config.data.load()
    seed = seed_or_drawn(config.seed)
    return StudyPlan(config, data, seed, resolve_tracking_uri(config.tracking_uri), config.experiment or config.name)


def open_study(plan: StudyPlan, storage: Any, slot: int = 0) -> optuna.study.Study:
    """Create the study, or load it to resume after checking it was run with the same settings."""
    import optuna

    config = plan.config
    study = optuna.create_study(
        study_name=config.name,
        storage=storage,
        sampler=make_sampler(config.sampler, offset(plan.seed, slot)),  # each worker its own draws
        pruner=make_pruner(config.pruner, config.scoring.cv),
        direction="maximize",
        load_if_exists=True,
    )
    settings = config.settings()
    stored = study.user_attrs.get(SETTINGS_ATTRIBUTE_KEY)
    if stored is None:
        study.set_user_attr(SETTINGS_ATTRIBUTE_KEY, settings)
    else:
        for key in SETTINGS_THAT_MUST_MATCH:
            if str(stored.get(key)) != str(settings[key]):
                raise StudyError(
                    f"study {config.name!r} was run with {key}={stored.get(key)}, not {settings[key]}; "
                    "pass another --study-name to start a new study"
                )
    return study


def make_callback(plan: StudyPlan, experiment_id: str, background: bool) -> MLflowCallback:
    """The MLflow tracking of the study's trials, in the layout ``search study`` writes."""
    from search.tracking import MLflowCallback

    config = plan.config
    space = config.space

    def run_params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
        """The estimator's own parameters (not the space's encoding), the model and the seed."""
        try:
            spec, params = space.decode(trial.params)
        except KeyError:  # a trial that stopped before drawing its model
            return dict(trial.params)
        shown: dict[str, Any] = {"model": spec.name} if len(space.specs) > 1 else {}
        shown.update(params)
        seed = (trial.user_attrs.get(TRIAL_ATTRIBUTE_KEY) or {}).get("seed")
        if seed is not None:
            shown["seed"] = seed
        return shown

    return MLflowCallback(
        tracking_uri=plan.tracking_uri,
        metric_name=config.scoring.cv_name,
        create_experiment=False,
        mlflow_kwargs={"experiment_id": experiment_id},
        tag_trial_user_attrs=False,
        study_run=True,
        study_run_params={**config.settings(), "seed": plan.seed},
        run_params=run_params,
        background=background,
    )


def run_study(config: StudyConfig, reporter: Reporter | None = None) -> StudyOutcome:
    """Run (or resume) the study ``config`` describes; interrupted or not, every finished trial is logged.

    With ``workers > 1`` this process is one worker and starts the others; the
    stores, the study and its MLflow parent run are made once, before they start.
    """
    from search.stores.mlflow import experiment_id as find_experiment
    from search.stores.mlflow import prepare_tracking_store
    from search.stores.optuna import open_storage

    reporter = reporter or Reporter()
    plan = plan_study(config)
    prepare_tracking_store(plan.tracking_uri)
    study = open_study(plan, open_storage(config.storage))
    plan.trials_before = len(study.get_trials(deepcopy=False))
    experiment_id = find_experiment(plan.tracking_uri, plan.experiment)
    callback = make_callback(plan, experiment_id, background=config.workers == 1)
    study_run_id = callback.study_run_id(study)
    reporter.start(plan)

    context = process_context()
    quota = Quota(config.n_trials, config.timeout, config.workers, context)
    pool = None
    if config.workers > 1:
        pool = WorkerPool(context, quota, _work_in_process, (plan, experiment_id, quota), range(1, config.workers))

    def stop() -> None:
        quota.stop()
        if pool is not None:
            pool.signal()  # they end the trial they are fitting, as this process does

    failure: BaseException | None = None
    interrupts = Interrupts(stop=stop, second=pool.kill if pool is not None else None)
    with interrupts, ProgressWatcher(study, reporter, quota):
        try:
            _work(study, plan, quota, 0, callback, interrupts)
        except KeyboardInterrupt:
            stop()
        except BaseException as error:  # reported after everything opened is ended
            stop()
            failure = error
        finally:
            worker_errors = pool.join() if pool is not None else []
    outcome = StudyOutcome(plan, study, quota.finished, experiment_id, study_run_id,
                           interrupted=interrupts.signalled, worker_errors=[str(e) for e in worker_errors])
    own = {worker_id(), *(pool.worker_ids() if pool is not None else ())}
    try:
        outcome.unlogged = callback.flush(FLUSH_SECONDS)
        if not outcome.unlogged:  # the store takes writes: mend what a crash or an interrupt left
            outcome.repaired = callback.sync(study, repair=repairable(own))
    finally:
        status = "KILLED" if outcome.interrupted else "FAILED" if failure or worker_errors else "FINISHED"
        callback.end_study_run(study, status)
        callback.close(timeout=FLUSH_SECONDS)
    reporter.finish(outcome)
    if failure is not None:
        raise failure
    return outcome


def repairable(own_workers: set[str], settle_seconds: float = 60.0) -> Callable[[optuna.trial.FrozenTrial], bool]:
    """Whether a finished trial without a run may be logged now, by whoever repairs the study.

    Yes for trials of this command's workers and of processes known dead; a trial
    of a live process elsewhere is left to it for ``settle_seconds`` after it
    finished (its writer may still be on the way), then logged too.
    """
    host = socket.gethostname()
    now = datetime.datetime.now()

    def check(trial: optuna.trial.FrozenTrial) -> bool:
        worker = (trial.user_attrs.get(TRIAL_ATTRIBUTE_KEY) or {}).get("worker")
        if worker is None or worker in own_workers:
            return True
        name, _, pid = worker.rpartition(":")
        if name == host and pid.isdigit() and not process_alive(int(pid)):
            return True
        finished = trial.datetime_complete
        return finished is None or (now - finished).total_seconds() > settle_seconds

    return check


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` (on this host) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _work(
    study: optuna.study.Study,
    plan: StudyPlan,
    quota: Quota,
    slot: int,
    callback: MLflowCallback,
    interrupts: Interrupts,
) -> None:
    """One worker: take slots from the quota and run a trial for each, logging every trial."""
    from threadpoolctl import threadpool_limits

    objective = make_objective(plan.config.space, plan.data, plan.config.scoring, plan.seed, interrupts)

    def run_one() -> None:
        study.optimize(objective, n_trials=1, callbacks=[callback], catch=(ValueError,), gc_after_trial=False)

    # Trials are the unit of parallelism: one BLAS/OpenMP thread each. Under load, OpenMP's
    # spinning threads made a kNN fit 10-20x slower here.
    with threadpool_limits(limits=1):
        run_trials(quota, slot, plan.config.n_jobs, run_one)


def _work_in_process(slot: int, plan: StudyPlan, experiment_id: str, quota: Quota) -> None:
    """A worker process: the same study, its own storage connection and MLflow writes."""
    import optuna

    from search.stores.optuna import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = open_study(plan, open_storage(plan.config.storage), slot)
    callback = make_callback(plan, experiment_id, background=False)
    with Interrupts(stop=quota.stop, worker=True) as interrupts:
        try:
            _work(study, plan, quota, slot, callback, interrupts)
        finally:
            callback.close(timeout=FLUSH_SECONDS)


__all__ = ["StudyOutcome", "StudyPlan", "make_callback", "open_study", "plan_study", "run_study", "worker_id"]
