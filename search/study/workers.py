"""The trials of one command, shared by its threads and worker processes; the processes; who runs a trial.

``--n-trials N`` means "this command adds N trials": every thread of every
worker process takes a slot from one `Quota` before it starts a trial, and a
slot only counts once its trial finished (complete, pruned, or failed by the
objective). The slot of a trial whose process died or that was interrupted is
given back, so another worker replaces it. Several commands on one study each
add exactly their own N.

Each trial records the process running it (`worker_id`), so a trial whose
process died can be told from one still running (`search.study.orphans`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for
from typing import TYPE_CHECKING, Any

from search.common.processes import start as start_process
from search.common.processes import watch_parent
from search.errors import SearchError
from search.trials import TRIAL_ATTRIBUTE_KEY

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

#: Names this process in its trials instead of ``host:pid`` (set by whoever launched it: the CML study job).
WORKER_ID_VARIABLE = "SEARCH_WORKER_ID"


def worker_id() -> str:
    """This process, as trials record it: ``$SEARCH_WORKER_ID``, else ``host:pid``."""
    return os.environ.get(WORKER_ID_VARIABLE) or f"{socket.gethostname()}:{os.getpid()}"


def trial_claim() -> dict[str, Any]:
    """What a trial this process runs records of it from its creation (see `optuna_storage.open_storage`)."""
    return {TRIAL_ATTRIBUTE_KEY: {"worker": worker_id()}}


class WorkerError(SearchError):
    """A worker process failed; the message says which and why."""


class Quota:
    """The trials one command may still start, shared across threads and (forked or spawned) processes.

    Args:
        n_trials: Trials to add (``None``: until the deadline or a stop).
        timeout: Seconds from now after which no trial starts.
        slots: How many worker processes take trials (each has its own in-flight count).
        context: The multiprocessing context the worker processes are started with.
    """

    def __init__(self, n_trials: int | None, timeout: float | None, slots: int, context: BaseContext) -> None:
        self._lock = context.Lock()
        self._limit = n_trials if n_trials is not None else -1
        self._deadline = time.time() + timeout if timeout is not None else None
        self._started = context.Value("i", 0, lock=False)  # finished + in flight
        self._finished = context.Value("i", 0, lock=False)
        self._in_flight = context.Array("i", slots, lock=False)
        self._finished_by = context.Array("i", slots, lock=False)
        self._stop = context.Event()

    @property
    def finished(self) -> int:
        return self._finished.value

    @property
    def total(self) -> int | None:
        return self._limit if self._limit >= 0 else None

    def seconds_left(self) -> float | None:
        """Seconds until no trial starts any more (None: no timeout)."""
        return None if self._deadline is None else self._deadline - time.time()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """No trial starts any more (running ones finish)."""
        self._stop.set()

    def take(self, slot: int) -> bool:
        """Take a slot for one trial; False once the command has what it asked for, ran out of time or stopped.

        When every slot is taken but some trials still run, waits: a trial
        whose worker dies gives its slot back, and then this caller replaces it.
        """
        while True:
            if self._stop.is_set() or (self._deadline is not None and time.time() >= self._deadline):
                return False
            with self._lock:
                if self._limit < 0 or self._started.value < self._limit:
                    self._started.value += 1
                    self._in_flight[slot] += 1
                    return True
                if self._finished.value >= self._limit:
                    return False
            self._stop.wait(0.2)

    def finish(self, slot: int) -> None:
        """The trial of a taken slot finished: it counts."""
        with self._lock:
            self._in_flight[slot] -= 1
            self._finished.value += 1
            self._finished_by[slot] += 1

    def settle_dead(self, slot: int, finished_in_storage: int) -> None:
        """A worker died: its trials the storage has as finished count; its other slots go back.

        It may die between finishing a trial (the storage has it) and counting it
        here (while it logs it to MLflow): that trial counts all the same.
        """
        with self._lock:
            unrecorded = max(0, min(finished_in_storage - self._finished_by[slot], self._in_flight[slot]))
            self._finished.value += unrecorded
            self._finished_by[slot] += unrecorded
            self._in_flight[slot] -= unrecorded
        self.give_back(slot)

    def give_back(self, slot: int, count: int | None = None) -> None:
        """The trial of a taken slot (or every one of a dead worker) does not count: another may replace it."""
        with self._lock:
            count = self._in_flight[slot] if count is None else count
            self._in_flight[slot] -= count
            self._started.value -= count


def run_trials(quota: Quota, slot: int, n_jobs: int, run_one: Callable[[], None]) -> None:
    """Take slots and run one trial per slot, in ``n_jobs`` threads, until the quota says stop.

    ``run_one`` raising an interrupt or an unexpected error gives its slot back
    and stops every thread; the first such error is raised here.
    """
    errors: list[BaseException] = []

    def loop() -> None:
        while not errors and quota.take(slot):
            try:
                run_one()
            except BaseException as error:
                quota.give_back(slot, 1)
                quota.stop()
                errors.append(error)
                return
            quota.finish(slot)

    if n_jobs == 1:
        loop()
    else:
        threads = [threading.Thread(target=loop, name=f"trials-{i}", daemon=True) for i in range(n_jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


@dataclass
class _Worker:
    slot: int
    process: BaseProcess
    reported: bool = False


class WorkerPool:
    """Worker processes running ``target(slot, *args)``; their failures come back as `WorkerError`.

    A thread watches them: the moment one dies (killed, crashed),
    ``on_death(slot, worker_id)`` is called, to settle its slots with the
    quota (`Quota.settle_dead`) and fail and queue again the trial it was
    running, so the others replace it.
    """

    def __init__(
        self,
        context: BaseContext,
        target: Callable[..., None],
        args: tuple,
        slots: range,
        on_death: Callable[[int, str], None],
    ) -> None:
        self._on_death = on_death
        self._results = context.Queue()
        self._failures: list[WorkerError] = []
        self._reasons: dict[int, str] = {}
        self._workers = [
            _Worker(slot, context.Process(target=_worker_main, args=(target, slot, self._results, os.getpid(), *args),
                                          name=f"search-worker-{slot}", daemon=True))
            for slot in slots
        ]
        for worker in self._workers:
            start_process(worker.process)
        self._watcher = threading.Thread(target=self._watch, name="worker-watcher", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        pending = {worker.process.sentinel: worker for worker in self._workers}
        host = socket.gethostname()
        while pending:
            for sentinel in wait_for(list(pending)):
                worker = pending.pop(sentinel)
                worker.process.join()
                code = worker.process.exitcode
                if code == 0:
                    continue
                reason = self._reason(worker.slot) or (f"killed by signal {-code}" if code < 0 else f"exit code {code}")
                self._failures.append(WorkerError(f"worker {worker.slot} (pid {worker.process.pid}) failed: {reason}"))
                self._on_death(worker.slot, f"{host}:{worker.process.pid}")

    def _reason(self, slot: int) -> str | None:
        """The message worker ``slot`` sent before it failed (others' messages are kept for them)."""
        while not self._results.empty():
            failed_slot, message = self._results.get()
            self._reasons[failed_slot] = message
        return self._reasons.pop(slot, None)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to every worker still running (SIGTERM: stop, ending the trial being fitted)."""
        for worker in self._workers:
            if worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def join(self) -> list[WorkerError]:
        """Wait for every worker; the failures, one per failed worker."""
        self._watcher.join()
        return list(self._failures)

    def worker_ids(self) -> list[str]:
        """The workers as trials record them (``host:pid``)."""
        host = socket.gethostname()
        return [f"{host}:{worker.process.pid}" for worker in self._workers]


def _worker_main(target: Callable[..., None], slot: int, results: Queue, owner: int, *args: Any) -> None:
    watch_parent(owner)  # a worker never outlives the command that started it (kill -9 included)
    try:
        target(slot, *args)
    except KeyboardInterrupt:
        os._exit(0)  # stopped by its owner: not a failure
    except BaseException as error:
        results.put((slot, f"{type(error).__name__}: {error}"))
        results.close()
        results.join_thread()
        os._exit(1)
