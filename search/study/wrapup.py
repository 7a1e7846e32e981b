"""The end of a study command: every run written or accounted for, the best model delivered, the parent ended.

In order: what the callback holds is written (or listed as unlogged, when the
store is down); the study's runs are reconciled with its trials (what a crash
left is mended); the deliverable is made current (figures, best model,
registration); the parent run is ended with the command's status; and the
study records how this command ended, so a later ``search sync`` ends the
parent run the same way if this command could not.

A signal stops the write-up within seconds, never in the middle of a write:
the parent run then ends KILLED and the summary says what was not delivered.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Collection
from typing import TYPE_CHECKING

from search.deliverable.best_model import StudyOnRun, deliver
from search.interrupts import Interrupted, shielded
from search.study.orphans import repairable
from search.text import one_line
from search.tracking import FAIL_REASON_ATTRIBUTE_KEY, UnloggedTrialsWarning
from search.trials import worker_of

if TYPE_CHECKING:
    import optuna

    from search.deliverable.figures import FigureProcess
    from search.deliverable.lineage import Lineage
    from search.study.outcome import StudyOutcome
    from search.study.progress import Reporter
    from search.tracking import MLflowCallback

#: How long the end of a command waits for MLflow to take what is queued (and, once interrupted, at most).
FLUSH_SECONDS, INTERRUPTED_FLUSH_SECONDS = 30.0, 3.0
#: The key, in a command's stretch attribute, saying how it ended (its parent run's status).
ENDED_KEY = "ended"


def wrap_up(
    outcome: StudyOutcome,
    callback: MLflowCallback,
    own: Collection[str],
    *,
    lineage: Lineage,
    figures: FigureProcess | None,
    reporter: Reporter,
) -> None:
    """Write and mend the runs, deliver the best model, end the parent run; the outcome says what happened."""
    try:
        _write_runs(outcome, callback, own)
        if outcome.failure is None:
            outcome.failure = all_failed(outcome.study, own, outcome.plan.trials_before)
        if not (outcome.interrupted or outcome.unlogged or outcome.failure):
            _deliver(outcome, lineage, figures, reporter)
    except Interrupted:
        outcome.interrupted = True
        outcome.interrupted_in = outcome.interrupted_in or "writing the trials' runs"
    if figures is not None:
        figures.close(wait=not outcome.interrupted)
    with shielded():
        callback.close(INTERRUPTED_FLUSH_SECONDS if outcome.interrupted else FLUSH_SECONDS, warn=False)
        if outcome.worker_errors:
            callback.tag_study_run(outcome.study, {"workers_failed": "; ".join(outcome.worker_errors)[:5000]})
        callback.end_study_run(outcome.study, outcome.status)
        record_end(outcome)


def _write_runs(outcome: StudyOutcome, callback: MLflowCallback, own: Collection[str]) -> None:
    """Everything the callback holds written, then every finished trial given exactly one run."""
    started = time.monotonic()
    try:
        outcome.unlogged = callback.close(FLUSH_SECONDS, warn=False)  # the summary says which, and what to do
        if not outcome.unlogged:  # the store takes writes
            with shielded():  # a run is never left half-written by a signal
                outcome.repaired = callback.sync(outcome.study, repair=repairable(own))
    except Exception as error:  # the store failed meanwhile: `search sync` will do it
        warnings.warn(f"could not repair the study's runs: {one_line(error)}", UnloggedTrialsWarning, stacklevel=2)
    outcome.timings["tracking"] = time.monotonic() - started


def _deliver(outcome: StudyOutcome, lineage: Lineage, figures: FigureProcess | None, reporter: Reporter) -> None:
    started = time.monotonic()
    config, plan = outcome.plan.config, outcome.plan
    try:
        target = StudyOnRun(outcome.study, plan.space, config.scoring, plan.data, lineage, config.tracking,
                            outcome.experiment_id, outcome.study_run_id)
        outcome.delivered = deliver(target, log_model=config.log_model, register=config.register,
                                    refit_all_rows=config.refit_all_rows,
                                    explain=config.figures, figures=figures, note=reporter.note)
    except Exception as error:  # reported after the summary; the trials are all kept and logged
        outcome.delivery_error = one_line(error)
    outcome.timings["deliver"] = time.monotonic() - started
    if outcome.delivered is not None and outcome.delivered.stopped:
        stopped = outcome.delivered.stopped
        outcome.interrupted_in = stopped if stopped == "drawing the figures" else f"{stopped} the best model"
        raise Interrupted()


def record_end(outcome: StudyOutcome) -> None:
    """Keep how this command ended with the study (its stretch), for a later ``search sync`` to end the run so."""
    plan = outcome.plan
    try:
        outcome.study.set_user_attr(plan.stretch_key, {**plan.stretch(), ENDED_KEY: outcome.status})
    except Exception as error:  # the storage is down too: the parent run says it, if MLflow took it
        warnings.warn(f"could not record how the command ended: {one_line(error)}", UnloggedTrialsWarning,
                      stacklevel=2)


def all_failed(study: optuna.study.Study, own: Collection[str], trials_before: int) -> str | None:
    """Why every trial this command ran failed (None if one did not)."""
    mine = [t for t in study.get_trials(deepcopy=False)[trials_before:] if worker_of(t) in own]
    if not mine or any(t.state.name != "FAIL" for t in mine):
        return None
    reason = str(mine[-1].user_attrs.get(FAIL_REASON_ATTRIBUTE_KEY, "no reason recorded")).strip().splitlines()
    return f"all {len(mine)} trials of this command failed; the last: {reason[-1] if reason else 'no reason'}"
