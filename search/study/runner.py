"""Running (or resuming) a study: planned, stores and parent run made once, trials run by a driver, wrapped up.

The one implementation behind ``search study``, the CML study job and
``search.tune``. Its phases, in order:

1. The stores checked (`search.stores.checks`), then `search.study.plan`: inputs
   checked, a study to resume inspected; nothing is written.
2. The stores, the study and its MLflow parent run are created (or found).
   Trials left RUNNING by a dead process are failed and queued again.
3. A `Driver` runs the trials until the command's quota is done, the time is
   up, or a signal stops it: `LocalWorkers` (this process and worker
   processes) or `RemoteDriver` (CML workers).
4. `search.study.wrapup`: every run ended, every finished trial given exactly
   one run, the best model delivered, the parent run ended with the status.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from search.common.processes import process_context
from search.deliverable.figures import FigureProcess
from search.deliverable.lineage import lineage, provenance_tags
from search.errors import SearchError
from search.interrupts import Interrupts
from search.stores.checks import check_stores
from search.stores.optuna_storage import open_storage
from search.stores.tracking_store import experiment_id as find_experiment
from search.stores.tracking_store import prepare_tracking_store
from search.study.callbacks import study_callback
from search.study.config import StudyConfig
from search.study.drivers import Ran
from search.study.local import LocalWorkers
from search.study.orphans import fail_orphans
from search.study.outcome import StudyOutcome
from search.study.plan import STRETCH_ATTRIBUTE_PREFIX, inspect_stores, open_study, plan_study
from search.study.progress import Reporter
from search.study.workers import trial_claim, worker_id
from search.study.wrapup import FLUSH_SECONDS, wrap_up
from search.text import one_line

if TYPE_CHECKING:
    from search.study.drivers import Driver
    from search.tracking import MLflowCallback


class StudyFailed(SearchError):
    """Every trial this command ran failed; the message gives the last reason."""


def run_study(config: StudyConfig, reporter: Reporter | None = None, driver: Driver | None = None) -> StudyOutcome:
    """Run (or resume) the study ``config`` describes; interrupted or not, every finished trial is logged.

    ``driver`` runs the trials (default: `LocalWorkers`, this process and
    ``config.workers - 1`` others). The stores, the study and its MLflow
    parent run are made once, before any worker starts. Raises `StudyFailed`
    (after the summary) when every trial it ran failed.
    """
    reporter = reporter or Reporter()
    driver = driver or LocalWorkers()
    started = time.monotonic()
    check_stores(config.storage, config.tracking)  # first: a mistyped store is refused before the data loads
    plan = plan_study(config)
    config = plan.config  # the task and metric named
    inspect_stores(plan)
    driver.check(plan)
    reporter.start(plan)

    from mlflow import MlflowClient  # after the checks: a bad input is refused before MLflow's import

    prepare_tracking_store(config.tracking)
    study = open_study(plan, open_storage(config.storage, heartbeat=True, claim=trial_claim))
    recovered = fail_orphans(study)
    experiment_id = find_experiment(config.tracking, plan.experiment)
    data = lineage(plan.data)
    tags = {**provenance_tags(), **data.tags()}
    callback = study_callback(config, experiment_id, seed=plan.seed, background=config.workers == 1, tags=tags)
    with contextlib.ExitStack() as wrapping_up:
        wrapping_up.callback(callback.close, timeout=FLUSH_SECONDS, warn=False)  # whatever happens: the writer stops
        study_run_id = callback.study_run_id(study)
        stretch = ", ".join(f"{key}={value}" for key, value in plan.stretch().items())
        callback.tag_study_run(study, {**tags, f"{STRETCH_ATTRIBUTE_PREFIX}{plan.started}": stretch})
        data.log(MlflowClient(config.tracking.url), study_run_id)
        outcome = StudyOutcome(plan, study, experiment_id, study_run_id, run_tags=tags, recovered=recovered)
        outcome.timings["prepare"] = time.monotonic() - started
        # Started with the trials, so its imports overlap them; it draws while the best model is refitted.
        figures = None
        if config.figures:
            figures = FigureProcess(process_context(), config.storage, config.name, config.tracking, study_run_id)
            wrapping_up.callback(figures.close)
        ran = _run_trials(driver, outcome, callback, reporter)
        if ran.failure is not None:
            outcome.failure = one_line(ran.failure)
        # From here on a signal stops the write-up between writes; after an earlier one, it exits at once.
        wrapping_up.enter_context(Interrupts(stop=lambda: None, signalled=outcome.interrupted, interruptible=True,
                                             announce="stopping the write-up (Ctrl-C again exits at once)"))
        wrap_up(outcome, callback, ran.own, lineage=data, figures=figures, reporter=reporter)
    reporter.finish(outcome)
    if ran.failure is not None:
        raise ran.failure
    if outcome.failure is not None and not outcome.interrupted:
        raise StudyFailed(outcome.failure)
    if outcome.delivery_error is not None:
        raise SearchError(f"the study ran, but its best model could not be logged: {outcome.delivery_error}")
    return outcome


def _run_trials(driver: Driver, outcome: StudyOutcome, callback: MLflowCallback, reporter: Reporter) -> Ran:
    """The driver's run; an error before any trial (the workers could not even start) still ends the parent run."""
    try:
        return driver.run(outcome, callback, reporter)
    except Exception as error:
        return Ran(own={worker_id()}, failure=error)


__all__ = ["StudyFailed", "run_study"]
