"""A study whose trials run on workers this process does not own (CML workers), every trial logged by this one.

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

A worker runs `join_study` (``cml/study_worker.py`` on CML).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from search.stores.urls import mask, sqlite_path
from search.study.config import StudyConfig, StudyError
from search.study.interrupts import Interrupts
from search.study.objective import worker_id
from search.study.progress import ProgressWatcher, Reporter
from search.study.recovery import fail_orphans, worker_of
from search.study.runner import StudyOutcome, StudyPlan, plan_study, run_quota, settings_mismatch
from search.study.workers import Quota
from search.tracking import FAIL_REASON_ATTRIBUTE_KEY, INTERRUPTED_REASON, process_context

if TYPE_CHECKING:
    import optuna

    from search.plots import FigureProcess
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
    """Workers started elsewhere; ``cml/launch_workers.py`` has CML's."""

    #: How many to start, and what one is called in messages ("CML worker").
    count: int
    kind: str

    def check(self) -> None:
        """Raise (one line) if they cannot be started from here; called before anything is created."""

    def launch(self, plan: StudyPlan, assignments: Sequence[Assignment]) -> None:
        """Start one worker per assignment, running ``join_study`` on the plan's study."""

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


def check_remote(plan: StudyPlan, remote: RemoteWorkers) -> None:
    """Refuse what remote workers cannot share: a SQLite file or memory as the Optuna storage."""
    storage = plan.config.storage
    if storage.startswith("sqlite:"):
        path = sqlite_path(storage)
        where = f"SQLite file {path}" if path else f"in-memory {mask(storage)}"
        journal = path.with_suffix(".journal") if path else "optuna.journal"
        raise StudyError(
            f"{remote.count} {remote.kind}s on other hosts cannot share the {where}: SQLite's locking is not safe "
            f"on a shared (NFS) filesystem. Use a journal file ({journal}), postgresql://… or redis://…"
        )
    remote.check()


def counts(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a finished trial counts toward its worker's share (a trial lost with its process does not)."""
    if trial.state.name in ("COMPLETE", "PRUNED"):
        return True
    reason = trial.user_attrs.get(FAIL_REASON_ATTRIBUTE_KEY)
    return trial.state.name == "FAIL" and reason is not None and not str(reason).startswith(INTERRUPTED_REASON)


def run_remote_workers(
    outcome: StudyOutcome, callback: MLflowCallback, reporter: Reporter, remote: RemoteWorkers
) -> tuple[BaseException | None, set[str], FigureProcess | None]:
    """Launch the workers, log their trials as they finish, make up for failed ones; as `runner._run_workers`."""
    from search.plots import FigureProcess
    from search.report import plural

    plan, study = outcome.plan, outcome.study
    config = plan.config
    started = time.monotonic()
    me = worker_id()
    shares = split_trials(config.n_trials, remote.count)
    assignments = [Assignment(f"{me}/worker-{slot}", slot, share, config.timeout)
                   for slot, share in enumerate(shares, start=1)]
    own = {me, *(a.worker for a in assignments)}
    done = [0]

    def log(trial: optuna.trial.FrozenTrial) -> None:
        if worker_of(trial) in own:
            callback(study, trial)
            done[0] += counts(trial)

    figures = FigureProcess(process_context(), config.storage, config.name, plan.tracking_uri, outcome.study_run_id)
    stopping = threading.Event()
    interrupts = Interrupts(stop=stopping.set, second=remote.stop)
    failure: BaseException | None = None
    with interrupts, ProgressWatcher(study, reporter, lambda: done[0], config.n_trials, on_trial=log):
        try:
            remote.launch(plan, assignments)
            reporter.note(f"Started {plural(len(assignments), remote.kind)} ({_shares_text(shares)}); "
                          "this job reports and logs their trials as they finish.")
            _wait(remote, stopping)
            if stopping.is_set():  # the trials they were fitting were interrupted, or lost with them
                outcome.recovered.extend(fail_orphans(study, dead={a.worker for a in assignments}))
                reporter.note(f"Stopped the {remote.kind}s; every trial they finished is kept and logged.")
            else:
                _make_up(outcome, remote, assignments, reporter, interrupts, started)
        except KeyboardInterrupt:
            remote.stop()
        except BaseException as error:  # reported after everything opened is ended
            remote.stop()
            failure = error
    outcome.timings["trials"] = time.monotonic() - started
    outcome.added = done[0]
    outcome.interrupted = interrupts.signalled
    return failure, own, figures


def _make_up(
    outcome: StudyOutcome,
    remote: RemoteWorkers,
    assignments: Sequence[Assignment],
    reporter: Reporter,
    interrupts: Interrupts,
    started: float,
) -> None:
    """Report the workers that failed, fail the trials they left running, and run the trials they owed here."""
    from search.report import plural

    study, config = outcome.study, outcome.plan.config
    failures = remote.failures()
    outcome.recovered.extend(fail_orphans(study, dead=set(failures)))
    outcome.worker_errors = _failure_lines(study, assignments, failures, remote.kind)
    for line in outcome.worker_errors:
        reporter.note(line)
    missing = _missing(study, assignments, failures)
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
    return sum(1 for t in study.get_trials(deepcopy=False) if worker_of(t) == worker and counts(t))


def _missing(study: optuna.study.Study, assignments: Sequence[Assignment], failures: dict[str, str]) -> int:
    """The trials failed workers owed and did not run."""
    return sum(max(0, a.n_trials - _finished_by(study, a.worker))
               for a in assignments if a.worker in failures and a.n_trials is not None)


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


def join_study(config: StudyConfig, slot: int) -> int:
    """Run ``config.n_trials`` trials of the study its job made, as worker ``slot``; how many finished.

    Writes only to the Optuna storage: the job logs the trials to MLflow.
    ``config.seed`` is the job's seed; this worker draws from it offset by ``slot``.
    """
    import optuna

    from search.seeds import offset
    from search.stores.optuna import open_storage
    from search.study.samplers import make_pruner, make_sampler
    from search.trials import SETTINGS_ATTRIBUTE_KEY

    plan = plan_study(config)
    storage = open_storage(config.storage, heartbeat=True)
    try:
        study = optuna.load_study(
            study_name=config.name, storage=storage, sampler=make_sampler(config.sampler, offset(plan.seed, slot)),
            pruner=make_pruner(config.pruner, config.scoring.cv),
        )
    except KeyError:
        raise StudyError(f"no study {config.name!r} in {mask(config.storage)}: "
                         "the study job makes it before it starts its workers") from None
    mismatch = settings_mismatch(study.user_attrs.get(SETTINGS_ATTRIBUTE_KEY) or {}, config.settings())
    if mismatch:
        key, was, now = mismatch
        raise StudyError(f"study {config.name!r} is run with {key}={was}, this worker was given {now}")
    quota = Quota(config.n_trials, config.timeout, 1, process_context())
    with Interrupts(stop=quota.stop, worker=True) as interrupts:
        run_quota(study, plan, quota, 0, None, interrupts)
    return quota.finished


__all__ = ["Assignment", "RemoteWorkers", "check_remote", "join_study", "run_remote_workers", "split_trials"]
