"""Running (or resuming) a study: inputs checked, stores and parent run made once, then workers, then repair.

The one implementation behind ``search study`` and the CML study job. Its
phases, in order:

1. `plan_study`: the data is loaded and everything that needs no store is
   checked (data, metric, folds, seed). Nothing is written anywhere yet.
2. `inspect_stores`: the stores are checked without writing (distinct,
   writable, reachable) and an existing study is read to check a resume.
3. The stores, the study and its MLflow parent run are created (or found).
   Trials left RUNNING by a dead process are failed and queued again.
4. This process and ``workers - 1`` others run trials until the command's
   quota is done, the time is up, or a signal stops it.
5. Every run is ended, and every finished trial given exactly one run.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from search.errors import SearchError
from search.seeds import offset, seed_or_drawn
from search.study.config import SETTINGS_THAT_MUST_MATCH, StudyConfig, StudyError
from search.study.interrupts import Interrupts
from search.study.objective import make_objective, worker_id
from search.study.progress import ProgressWatcher, Reporter
from search.study.recovery import fail_orphans, repairable, worker_of
from search.study.samplers import make_pruner, make_sampler
from search.study.workers import Quota, WorkerPool, run_trials
from search.tracking import process_context
from search.trials import SETTINGS_ATTRIBUTE_KEY, shown_params

if TYPE_CHECKING:
    import optuna

    from search.best_model import Delivered
    from search.data import Dataset
    from search.lineage import Lineage
    from search.plots import FigureProcess
    from search.study.remote import RemoteWorkers
    from search.tracking import MLflowCallback, SyncReport

#: Study user attributes starting with this record each command's sampler, pruner and seed.
STRETCH_ATTRIBUTE_PREFIX = "stretch "
#: How long the end of a command waits for MLflow to take what is queued.
FLUSH_SECONDS = 30.0


class StudyFailed(SearchError):
    """Every trial this command ran failed; the message gives the last reason."""


@dataclass
class StudyPlan:
    """A study about to run: the checked config and what was derived from it."""

    config: StudyConfig
    data: Dataset
    seed: int
    tracking_uri: str
    experiment: str
    started: str = field(default_factory=lambda: datetime.datetime.now().isoformat(timespec="milliseconds"))
    trials_before: int = 0
    #: The study exists with other settings but no trial: it is made again with these.
    recreate: bool = False
    #: Earlier commands' samplers, pruners and seeds (study user attrs ``stretch …``), oldest first.
    stretches: list[dict[str, Any]] = field(default_factory=list)

    def stretch(self) -> dict[str, Any]:
        """This command's stretch of trials: how they are drawn and stopped."""
        config = self.config
        return {"first_trial": self.trials_before, "sampler": config.sampler.value, "pruner": config.pruner.value,
                "seed": self.seed, "workers": config.workers, "log_model": config.log_model, "started": self.started}


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
    delivered: Delivered | None = None
    delivery_error: str | None = None
    recovered: list[int] = field(default_factory=list)
    interrupted: bool = False
    worker_errors: list[str] = field(default_factory=list)
    failure: str | None = None
    #: Seconds each phase took: ``prepare`` (inputs, stores, parent run), ``trials``, ``tracking`` (writing
    #: and repairing runs), ``deliver`` (figures, best model, registration).
    timings: dict[str, float] = field(default_factory=dict)


def plan_study(config: StudyConfig) -> StudyPlan:
    """Load the data and check what needs no store, so a bad input creates nothing."""
    from search.stores.urls import resolve_tracking_uri

    data = config.data.load()
    config.scoring.check(data)
    return StudyPlan(config, data, seed_or_drawn(config.seed), resolve_tracking_uri(config.tracking_uri),
                     config.experiment or config.name)


def inspect_stores(plan: StudyPlan) -> None:
    """Check the stores without writing to them, and a resumed study's settings against this command's."""
    import optuna

    from search.stores.checks import check_stores
    from search.stores.optuna import StorageError, holds_studies, open_storage
    from search.stores.urls import mask
    from search.tracking import one_line

    config = plan.config
    check_stores(config.storage, plan.tracking_uri)
    if not holds_studies(config.storage):
        return  # a new storage: no study to resume
    try:
        study = optuna.load_study(study_name=config.name, storage=open_storage(config.storage, read_only=True),
                                  sampler=optuna.samplers.RandomSampler())
    except KeyError:
        return
    except StorageError:
        raise
    except Exception as error:
        raise StorageError(f"cannot read Optuna storage {mask(config.storage)}: {one_line(error)}") from None
    trials = study.get_trials(deepcopy=False)
    stored = study.user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}
    mismatch = settings_mismatch(stored, config.settings())
    if mismatch and trials:
        key, was, now = mismatch
        raise StudyError(
            f"study {config.name!r} was run with {key}={was}, not {now}; pass another --study-name to start a new study"
        )
    plan.recreate = bool(mismatch)
    plan.trials_before = len(trials)
    attrs = study.user_attrs
    plan.stretches = [attrs[key] for key in sorted(attrs) if key.startswith(STRETCH_ATTRIBUTE_PREFIX)]


def settings_mismatch(stored: dict[str, Any], settings: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """The first setting a study was made with that ``settings`` would change: (key, stored, given)."""
    for key in SETTINGS_THAT_MUST_MATCH:
        if key in stored and str(stored[key]) != str(settings[key]):
            return key, stored[key], settings[key]
    return None


def open_study(plan: StudyPlan, storage: Any, slot: int = 0) -> optuna.study.Study:
    """Create the study (again, if ``plan.recreate``), or load it to resume."""
    import optuna

    config = plan.config
    if plan.recreate and slot == 0:
        optuna.delete_study(study_name=config.name, storage=storage)
    study = optuna.create_study(
        study_name=config.name,
        storage=storage,
        sampler=make_sampler(config.sampler, offset(plan.seed, slot)),  # each worker its own draws
        pruner=make_pruner(config.pruner, config.scoring.cv),
        direction="maximize",
        load_if_exists=True,
    )
    if slot == 0:
        mismatch = settings_mismatch(study.user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}, config.settings())
        if mismatch:  # another command made it a moment ago, with other settings
            raise StudyError(f"study {config.name!r} was just created with {mismatch[0]}={mismatch[1]} by another "
                             "command; pass another --study-name")
        study.set_user_attr(SETTINGS_ATTRIBUTE_KEY, config.settings())
        study.set_user_attr(f"{STRETCH_ATTRIBUTE_PREFIX}{plan.started} {worker_id()}", plan.stretch())
    return study


def make_callback(
    plan: StudyPlan, experiment_id: str, background: bool, tags: dict[str, str] | None = None
) -> MLflowCallback:
    """The MLflow tracking of the study's trials, in the layout ``search study`` writes; ``tags`` on every run."""
    from search.tracking import MLflowCallback

    config = plan.config
    return MLflowCallback(
        tracking_uri=plan.tracking_uri,
        metric_name=config.scoring.cv_name,
        create_experiment=False,
        mlflow_kwargs={"experiment_id": experiment_id, "tags": dict(tags or {})},
        tag_trial_user_attrs=False,
        study_run=True,
        study_run_params={**config.settings(), "seed": plan.seed},
        study_run_tags=tags,
        run_params=run_params_of(config),
        background=background,
    )


def run_params_of(config: StudyConfig) -> Callable[[optuna.trial.FrozenTrial], dict[str, Any]]:
    """A trial's params as its run shows them: the estimator's own (not the space's encoding), model, seed."""
    return functools.partial(shown_params, config.space, seed=True)


def run_study(
    config: StudyConfig, reporter: Reporter | None = None, remote: RemoteWorkers | None = None
) -> StudyOutcome:
    """Run (or resume) the study ``config`` describes; interrupted or not, every finished trial is logged.

    With ``workers > 1`` this process is one worker and starts the others; the
    stores, the study and its MLflow parent run are made once, before they start.
    With ``remote`` (CML workers), they run the trials and this process logs
    them (see `search.study.remote`). Raises `StudyFailed` (after the summary)
    when every trial it ran failed.
    """
    from mlflow import MlflowClient

    from search.lineage import lineage, provenance_tags
    from search.stores.mlflow import experiment_id as find_experiment
    from search.stores.mlflow import prepare_tracking_store
    from search.stores.optuna import open_storage

    reporter = reporter or Reporter()
    started = time.monotonic()
    plan = plan_study(config)
    inspect_stores(plan)
    if remote is not None:
        from search.study.remote import check_remote

        check_remote(plan, remote)
    reporter.start(plan)

    prepare_tracking_store(plan.tracking_uri)
    study = open_study(plan, open_storage(config.storage, heartbeat=True))
    recovered = fail_orphans(study)
    experiment_id = find_experiment(plan.tracking_uri, plan.experiment)
    data = lineage(plan.data)
    tags = {**provenance_tags(), **data.tags()}
    callback = make_callback(plan, experiment_id, background=config.workers == 1, tags=tags)
    with contextlib.ExitStack() as wrapping_up:
        try:
            study_run_id = callback.study_run_id(study)
            stretch = {f"{STRETCH_ATTRIBUTE_PREFIX}{plan.started}": _describe(plan.stretch())}
            callback.tag_study_run(study, {**tags, **stretch})
            data.log(MlflowClient(plan.tracking_uri), study_run_id)
            outcome = StudyOutcome(plan, study, 0, experiment_id, study_run_id, recovered=recovered)
            outcome.timings["prepare"] = time.monotonic() - started
            try:
                if remote is not None:
                    from search.study.remote import run_remote_workers

                    failure, own, figures = run_remote_workers(outcome, callback, reporter, remote)
                else:
                    failure, own, figures = _run_workers(outcome, callback, reporter)
            except Exception as error:  # the workers could not even start: still end the parent run, then say why
                failure, own, figures = error, {worker_id()}, None
            # From here on a signal never cuts a write short; after Ctrl-C, a second one exits at once.
            wrapping_up.enter_context(Interrupts(stop=lambda: None, signalled=outcome.interrupted))
            try:
                _finish_tracking(outcome, callback, own, failed=failure is not None, lineage=data, figures=figures)
            finally:
                if figures is not None:
                    figures.close()
        finally:
            callback.close(timeout=FLUSH_SECONDS, warn=False)
        outcome.failure = _all_failed(study, own, plan.trials_before)
        reporter.finish(outcome)
    if failure is not None:
        raise failure
    if outcome.failure is not None and not outcome.interrupted:
        raise StudyFailed(outcome.failure)
    if outcome.delivery_error is not None:
        raise SearchError(f"the study ran, but its best model could not be logged: {outcome.delivery_error}")
    return outcome


def _run_workers(
    outcome: StudyOutcome, callback: MLflowCallback, reporter: Reporter
) -> tuple[BaseException | None, set[str], FigureProcess | None]:
    """This process and the other workers run trials until the quota is done.

    Returns the unexpected error, if any, this command's workers, and the
    process that will draw the study's figures (started now, so its imports
    overlap the trials).
    """
    from search.plots import FigureProcess

    plan, study = outcome.plan, outcome.study
    config = plan.config
    context = process_context()
    quota = Quota(config.n_trials, config.timeout, config.workers, context)
    pool = None
    if config.workers > 1:
        args = (plan, outcome.experiment_id, quota)

        def on_death(slot: int, worker: str) -> None:
            done = sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished() and worker_of(t) == worker)
            quota.settle_dead(slot, done)
            outcome.recovered.extend(fail_orphans(study, dead=[worker]))

        pool = WorkerPool(context, _work_in_process, args, range(1, config.workers), on_death=on_death)
    figures = FigureProcess(context, config.storage, config.name, plan.tracking_uri, outcome.study_run_id)

    def stop() -> None:
        quota.stop()
        if pool is not None:
            pool.signal()  # they end the trial they are fitting, as this process does

    failure: BaseException | None = None
    started = time.monotonic()
    interrupts = Interrupts(stop=stop, second=pool.kill if pool is not None else None)
    with interrupts, ProgressWatcher(study, reporter, lambda: quota.finished, quota.total):
        try:
            run_quota(study, plan, quota, 0, callback, interrupts)
        except KeyboardInterrupt:
            stop()
        except BaseException as error:  # reported after everything opened is ended
            stop()
            failure = error
        finally:
            worker_errors = pool.join() if pool is not None else []
    outcome.timings["trials"] = time.monotonic() - started
    outcome.added = quota.finished
    outcome.interrupted = interrupts.signalled
    outcome.worker_errors = [str(error) for error in worker_errors]
    return failure, {worker_id(), *(pool.worker_ids() if pool is not None else ())}, figures


def _finish_tracking(
    outcome: StudyOutcome,
    callback: MLflowCallback,
    own: set[str],
    failed: bool,
    lineage: Lineage,
    figures: FigureProcess | None = None,
) -> None:
    """Write what is queued, mend what a crash or an interrupt left, deliver the best model, end the parent run."""
    from search.best_model import StudyOnRun, deliver
    from search.tracking import UnloggedTrialsWarning, one_line

    started = time.monotonic()
    try:
        outcome.unlogged = callback.flush(FLUSH_SECONDS, warn=False)  # the summary says which, and what to do
        if not outcome.unlogged:  # the store takes writes
            outcome.repaired = callback.sync(outcome.study, repair=repairable(own))
    except Exception as error:  # the store failed meanwhile: `search sync` will do it
        warnings.warn(f"could not repair the study's runs: {one_line(error)}", UnloggedTrialsWarning, stacklevel=2)
    plan = outcome.plan
    outcome.timings["tracking"] = time.monotonic() - started
    started = time.monotonic()
    if not (outcome.interrupted or outcome.unlogged or failed):
        try:
            target = StudyOnRun(outcome.study, plan.config.space, plan.config.scoring, plan.data, lineage,
                                plan.tracking_uri, outcome.experiment_id, outcome.study_run_id)
            outcome.delivered = deliver(target, plan.config.log_model, plan.config.register, figures)
        except Exception as error:  # reported after the summary; the trials are all kept and logged
            outcome.delivery_error = one_line(error)
        outcome.timings["deliver"] = time.monotonic() - started
    if outcome.interrupted:
        status = "KILLED"
    elif failed or outcome.worker_errors:
        status = "FAILED"
    else:
        status = "FINISHED"
    callback.end_study_run(outcome.study, status)


def _describe(stretch: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in stretch.items())


def _all_failed(study: optuna.study.Study, own: set[str], trials_before: int) -> str | None:
    """Why every trial this command ran failed (None if one did not)."""
    from search.tracking import FAIL_REASON_ATTRIBUTE_KEY

    mine = [t for t in study.get_trials(deepcopy=False)[trials_before:] if worker_of(t) in own]
    if not mine or any(t.state.name != "FAIL" for t in mine):
        return None
    reason = str(mine[-1].user_attrs.get(FAIL_REASON_ATTRIBUTE_KEY, "no reason recorded")).strip().splitlines()
    return f"all {len(mine)} trials of this command failed; the last: {reason[-1] if reason else 'no reason'}"


def run_quota(
    study: optuna.study.Study,
    plan: StudyPlan,
    quota: Quota,
    slot: int,
    callback: MLflowCallback | None,
    interrupts: Interrupts,
) -> None:
    """One worker: take slots from the quota and run a trial for each, logging each with ``callback``."""
    from threadpoolctl import threadpool_limits

    objective = make_objective(plan.config.space, plan.data, plan.config.scoring, plan.seed, interrupts)

    def run_one() -> None:
        callbacks = [callback] if callback is not None else []
        study.optimize(objective, n_trials=1, callbacks=callbacks, catch=(ValueError,), gc_after_trial=False)

    # Trials are the unit of parallelism: one BLAS/OpenMP thread each. Under load, OpenMP's
    # spinning threads made a kNN fit 10-20x slower here.
    with threadpool_limits(limits=1):
        run_trials(quota, slot, plan.config.n_jobs, run_one)


def _work_in_process(slot: int, plan: StudyPlan, experiment_id: str, quota: Quota) -> None:
    """A worker process: the same study, its own storage connection and MLflow writes."""
    import optuna

    from search.stores.optuna import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = open_study(plan, open_storage(plan.config.storage, heartbeat=True), slot)
    callback = make_callback(plan, experiment_id, background=False)
    with Interrupts(stop=quota.stop, worker=True) as interrupts:
        try:
            run_quota(study, plan, quota, slot, callback, interrupts)
        finally:
            callback.close(timeout=FLUSH_SECONDS)


__all__ = ["StudyFailed", "StudyOutcome", "StudyPlan", "open_study", "plan_study", "run_study"]
