"""The remote driver: trials run by workers this process does not own (CML workers), every trial logged here.

CML starts workers as engines of their own, usually on other hosts: nothing is
forked, no memory is shared, so there is no common quota. The process that
owns the study (the CML study job):

1. makes the stores, the study and its MLflow parent run, as every study command does;
2. gives each worker a fixed share of the trials and a seed of its own, and launches them;
3. follows the study in the storage, reports every trial, and logs it to MLflow.
   Workers write only to the Optuna storage, so MLflow has one writer: a killed
   worker cannot leave a run RUNNING, and no run is logged twice;
4. when a worker fails, fails the trial it was running (queued again) and runs
   the trials it did not itself, so the study still gets every trial asked for.

A worker runs `run_share` (``cml/study_worker.py`` on CML).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from search.common.processes import process_context
from search.interrupts import Interrupted, Interrupts
from search.stores.optuna_storage import open_storage
from search.stores.urls import Kind
from search.study.config import StudyConfig, StudyError
from search.study.drivers import Ran
from search.study.execution import run_quota
from search.study.orphans import fail_orphans
from search.study.plan import join_study, plan_study
from search.study.progress import ProgressWatcher
from search.study.workers import Quota, trial_claim, worker_id
from search.text import plural
from search.trials import counts_toward_quota, worker_of

if TYPE_CHECKING:
    import optuna

    from search.study.outcome import StudyOutcome
    from search.study.plan import StudyPlan
    from search.study.progress import Reporter
    from search.tracking import MLflowCallback

#: How often the owner looks whether its workers have ended.
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Assignment:
    """What one remote worker is asked to do."""

    worker: str  # the id its trials record ($SEARCH_WORKER_ID), chosen by the owner
    slot: int  # 1, 2, …: its seed is the study's seed offset by this
    n_trials: int | None  # its share (None: until the timeout)
    timeout: float | None  # seconds left when it starts


class RemoteWorkers(Protocol):
    """Workers started elsewhere, by a platform's API; ``cml/launch_workers.py`` has CML's."""

    #: How many to start, and what one is called in messages ("CML worker").
    count: int
    kind: str

    def check(self) -> None:
        """Raise (one line) if they cannot be started from here; called before anything is created."""

    def launch(self, plan: StudyPlan, assignments: Sequence[Assignment]) -> None:
        """Start one worker per assignment, running `run_share` on the plan's study."""

    def wait(self, timeout: float) -> bool:
        """Whether every worker has ended, waiting at most ``timeout`` seconds."""

    def failures(self) -> dict[str, str]:
        """The workers that did not end well: assignment's worker id -> why, naming it as the platform does."""

    def stop(self) -> None:
        """Stop every worker still running."""


def split_trials(n_trials: int | None, workers: int) -> list[int | None]:
    """Each worker's share of ``n_trials``, as even as can be; no worker gets none."""
    if n_trials is None:
        return [None] * workers
    count = min(workers, n_trials)
    return [n_trials // count + (i < n_trials % count) for i in range(count)]


class RemoteDriver:
    """Runs a study's trials on ``workers``; this process reports and logs them, and makes up for failed ones."""

    def __init__(self, workers: RemoteWorkers) -> None:
        self.workers = workers

    def check(self, plan: StudyPlan) -> None:
        """Refuse what remote workers cannot share: a SQLite file (or memory) as the Optuna storage."""
        storage = plan.config.storage
        if storage.kind is Kind.sqlite:
            where = f"SQLite file {storage.path}" if storage.path else f"in-memory {storage}"
            journal = storage.path.with_suffix(".journal") if storage.path else "optuna.journal"
            raise StudyError(
                f"{self.workers.count} {self.workers.kind}s on other hosts cannot share the {where}: SQLite's "
                f"locking is not safe on a shared (NFS) filesystem. Use a journal file ({journal}), "
                "postgresql://… or redis://…"
            )
        self.workers.check()

    def run(self, outcome: StudyOutcome, callback: MLflowCallback, reporter: Reporter) -> Ran:
        plan, study, remote = outcome.plan, outcome.study, self.workers
        config = plan.config
        started = time.monotonic()
        me = worker_id()
        shares = split_trials(config.n_trials, remote.count)
        assignments = [Assignment(f"{me}/worker-{slot}", slot, share, config.timeout)
                       for slot, share in enumerate(shares, start=1)]
        ran = Ran(own={me, *(a.worker for a in assignments)})

        def log(trial: optuna.trial.FrozenTrial) -> None:
            if worker_of(trial) in ran.own:
                callback(study, trial)

        stopping = threading.Event()
        interrupts = Interrupts(stop=stopping.set, second=remote.stop)
        watcher = ProgressWatcher(study, reporter, lambda: ran.own, config.n_trials, on_trial=log)
        with interrupts, watcher:
            try:
                remote.launch(plan, assignments)
                reporter.note(f"Started {plural(len(assignments), remote.kind)} ({_shares_text(shares)}); "
                              "this job reports and logs their trials as they finish.")
                _wait(remote, stopping)
                if stopping.is_set():  # the trials they were fitting were interrupted, or lost with them
                    outcome.recovered.extend(fail_orphans(study, dead={a.worker for a in assignments}))
                    reporter.note(f"Stopped the {remote.kind}s; every trial they finished is kept and logged.")
                else:
                    self._make_up(outcome, assignments, reporter, interrupts, started)
            except KeyboardInterrupt:
                remote.stop()
            except BaseException as error:  # reported after everything opened is ended
                remote.stop()
                ran.failure = error
        outcome.timings["trials"] = time.monotonic() - started
        outcome.added = watcher.done
        outcome.interrupted = interrupts.signalled
        return ran

    def _make_up(
        self,
        outcome: StudyOutcome,
        assignments: Sequence[Assignment],
        reporter: Reporter,
        interrupts: Interrupts,
        started: float,
    ) -> None:
        """Report the workers that failed, fail the trials they left running, and run the trials they owed here."""
        study, config = outcome.study, outcome.plan.config
        failures = self.workers.failures()
        outcome.recovered.extend(fail_orphans(study, dead=set(failures)))
        outcome.worker_errors = _failure_lines(study, assignments, failures, self.workers.kind)
        for line in outcome.worker_errors:
            reporter.note(line)
        missing = sum(max(0, a.n_trials - _finished_by(study, a.worker))
                      for a in assignments if a.worker in failures and a.n_trials is not None)
        if missing:
            reporter.note(f"This job runs the {plural(missing, 'trial')} they did not.")
            remaining = config.timeout - (time.monotonic() - started) if config.timeout is not None else None
            quota = Quota(missing, remaining, 1, process_context())
            run_quota(study, outcome.plan, quota, 0, None, interrupts)  # the watcher logs them, as theirs


def _wait(remote: RemoteWorkers, stopping: threading.Event) -> None:
    """Until every worker has ended; a signal (Ctrl-C, the job cancelled) stops them first."""
    stopped = False
    while not remote.wait(POLL_SECONDS):
        if stopping.is_set() and not stopped:
            remote.stop()
            stopped = True


def _finished_by(study: optuna.study.Study, worker: str) -> int:
    return sum(1 for t in study.get_trials(deepcopy=False) if worker_of(t) == worker and counts_toward_quota(t))


def _failure_lines(
    study: optuna.study.Study, assignments: Sequence[Assignment], failures: dict[str, str], kind: str
) -> list[str]:
    """One line per failed worker: which, why, and how far it got."""
    lines = []
    for a in assignments:
        if a.worker in failures:
            share = f" of its {a.n_trials}" if a.n_trials is not None else ""
            lines.append(f"{kind} {a.slot} failed ({failures[a.worker]}): "
                         f"{_finished_by(study, a.worker)}{share} trials finished")
    return lines


def _shares_text(shares: list[int | None]) -> str:
    if shares[0] is None:
        return "each until the timeout"
    low, high = min(shares), max(shares)
    return f"{low} trials each" if low == high else f"{low} or {high} trials each"


def run_share(config: StudyConfig, slot: int) -> int:
    """Run ``config.n_trials`` trials of the study its job made, as worker ``slot``; how many finished.

    Writes only to the Optuna storage: the job logs the trials to MLflow.
    ``config.seed`` is the job's seed; this worker draws from it offset by ``slot``.
    Raises `Interrupted` when the job stopped it, whether a trial was running or not.
    """
    plan = plan_study(config)
    config = plan.config
    study = join_study(plan, open_storage(config.storage, heartbeat=True, claim=trial_claim), slot)
    quota = Quota(config.n_trials, config.timeout, 1, process_context())
    with Interrupts(stop=quota.stop, worker=True) as interrupts:
        run_quota(study, plan, quota, 0, None, interrupts)
    if interrupts.signalled:  # stopped between two trials: stopped all the same
        raise Interrupted()
    return quota.finished
