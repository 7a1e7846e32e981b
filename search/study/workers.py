"""The trials of one command, shared by its threads and worker processes, and the processes themselves.

``--n-trials N`` means "this command adds N trials": every thread of every
worker process takes a slot from one `Quota` before it starts a trial, and a
slot only counts once its trial finished (complete, pruned, or failed by the
objective). The slot of a trial whose process died or that was interrupted is
given back, so another worker replaces it. Several commands on one study each
add exactly their own N.
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
from typing import Any

from search.errors import SearchError


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

    def __init__(self, n_trials: int | None, timeout: float | None, slots: int, context: Any) -> None:
        self._lock = context.Lock()
        self._limit = n_trials if n_trials is not None else -1
        self._deadline = time.time() + timeout if timeout is not None else None
        self._started = context.Value("i", 0, lock=False)  # finished + in flight
        self._finished = context.Value("i", 0, lock=False)
        self._in_flight = context.Array("i", slots, lock=False)
        self._stop = context.Event()

    @property
    def finished(self) -> int:
        return self._finished.value

    @property
    def total(self) -> int | None:
        return self._limit if self._limit >= 0 else None

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """No trial starts any more (running ones finish)."""
        self._stop.set()

    def take(self, slot: int) -> bool:
        """Take a slot for one trial; False when the command has started enough, ran out of time or stopped."""
        if self._stop.is_set() or (self._deadline is not None and time.time() >= self._deadline):
            return False
        with self._lock:
            if 0 <= self._limit <= self._started.value:
                return False
            self._started.value += 1
            self._in_flight[slot] += 1
            return True

    def finish(self, slot: int) -> None:
        """The trial of a taken slot finished: it counts."""
        with self._lock:
            self._in_flight[slot] -= 1
            self._finished.value += 1

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
    process: Any
    reported: bool = False


class WorkerPool:
    """Worker processes running ``target(slot, *args)``; their failures come back as `WorkerError`.

    A worker that dies (killed, crashed) has its in-flight slots given back to
    the quota, so the others replace its trials.
    """

    def __init__(self, context: Any, quota: Quota, target: Callable[..., None], args: tuple, slots: range) -> None:
        self._quota = quota
        self._results = context.Queue()
        self._workers = [
            _Worker(slot, context.Process(target=_worker_main, args=(target, slot, self._results, *args),
                                          name=f"search-worker-{slot}", daemon=True))
            for slot in slots
        ]
        for worker in self._workers:
            worker.process.start()

    def __len__(self) -> int:
        return len(self._workers)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to every worker still running (SIGTERM: stop, ending the trial being fitted)."""
        for worker in self._workers:
            if worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def join(self, timeout: float | None = None) -> list[WorkerError]:
        """Wait for every worker (at most ``timeout`` s); the failures, one per failed worker."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in self._workers:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            worker.process.join(remaining)
        messages = {}
        while not self._results.empty():
            slot, message = self._results.get()
            messages[slot] = message
        failures = []
        for worker in self._workers:
            code = worker.process.exitcode
            if code is None or code == 0:
                continue
            self._quota.give_back(worker.slot)
            reason = messages.get(worker.slot) or (
                f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            )
            failures.append(WorkerError(f"worker {worker.slot} (pid {worker.process.pid}) failed: {reason}"))
        return failures

    def worker_ids(self) -> list[str]:
        """The workers as trials record them (``host:pid``)."""
        host = socket.gethostname()
        return [f"{host}:{worker.process.pid}" for worker in self._workers]


def _worker_main(target: Callable[..., None], slot: int, results: Any, *args: Any) -> None:
    try:
        target(slot, *args)
    except KeyboardInterrupt:
        os._exit(0)  # stopped by its owner: not a failure
    except BaseException as error:
        results.put((slot, f"{type(error).__name__}: {error}"))
        results.close()
        results.join_thread()
        os._exit(1)
