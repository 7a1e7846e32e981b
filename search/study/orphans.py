"""Trials whose process died: found, failed, retried, so a crash costs a trial and nothing else.

Optuna's heartbeat does this on storages that have one (the RDB storages:
sqlite, PostgreSQL, MySQL), once a trial's heartbeat is older than the grace
period. The journal storages (a ``.journal`` file, Redis) have none, and a
resume right after a crash should not wait for the grace period either: each
trial records the process running it (``host:pid``), so a trial whose process
on this host is gone is failed at once, and queued again with the same
parameters (Optuna's ``RetryHeartbeatStaleTrialCallback``). Its run's
``fail_reason`` says it failed outside its objective (the tracking library's
`NO_ERROR_REASON`).
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from search.stores.optuna_storage import stale_trial_retry
from search.trials import worker_of

if TYPE_CHECKING:
    import optuna

#: Seconds after which a RUNNING trial that names no process is an orphan (see `dead_here`).
OWNERLESS_SECONDS = 60.0

def process_alive(pid: int, since: datetime.datetime | None = None) -> bool:
    """Whether process ``pid`` on this host runs, and (if ``since`` is given) has run since then.

    A pid is reused once its process is gone: a process started after ``since``
    is another one.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    started = _start_time(pid)
    return since is None or started is None or started <= since.timestamp() + 1.0


def _start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc; None where there is no /proc."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def dead_here(
    trial: optuna.trial.FrozenTrial, dead: Collection[str] = (), ownerless_after: float = OWNERLESS_SECONDS
) -> bool:
    """Whether the process that runs (or ran) ``trial`` is known to be gone.

    A RUNNING trial that names no process (one killed between taking a queued
    trial and claiming it, on a journal storage) is taken as gone once it has
    been so for ``ownerless_after`` seconds: a live process claims it within
    the same instant.
    """
    worker = worker_of(trial)
    if worker is None:
        started = trial.datetime_start
        return started is not None and (datetime.datetime.now() - started).total_seconds() > ownerless_after
    if worker in dead:
        return True
    host, _, pid = worker.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid), trial.datetime_start)


def fail_orphans(
    study: optuna.study.Study, dead: Collection[str] = (), ownerless_after: float = OWNERLESS_SECONDS
) -> list[int]:
    """Fail the RUNNING trials whose process is gone, and queue each again (once: see `stale_trial_retry`)."""
    import optuna

    failed = []
    retry = stale_trial_retry()
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if not dead_here(trial, dead, ownerless_after):
            continue
        try:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        except (ValueError, RuntimeError):  # finished meanwhile (by its heartbeat, or another repair)
            continue
        failed.append(trial.number)
        retry(study, trial)  # queued again with its params (the callback reads nothing of its state)
    return failed


def repairable(
    own_workers: Collection[str], settle_seconds: float = 60.0
) -> Callable[[optuna.trial.FrozenTrial], bool]:
    """Whether a finished trial without a run may be logged now, by whoever repairs the study.

    Yes for trials of this command's workers and of processes known gone; a
    trial of a live process elsewhere is left to it for ``settle_seconds``
    after it finished (its writer may still be on the way), then logged too.
    """
    now = datetime.datetime.now()

    def check(trial: optuna.trial.FrozenTrial) -> bool:
        worker = worker_of(trial)
        if worker is None or worker in own_workers or dead_here(trial):
            return True
        finished = trial.datetime_complete
        return finished is None or (now - finished).total_seconds() > settle_seconds

    return check
