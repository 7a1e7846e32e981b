"""A writer process that takes run records off a queue, so logging runs beside the study.

Until it says it is ready (a spawned one imports MLflow first, which takes
seconds; only where there is no fork), its owner writes in the foreground (`search.tracking._outage`).

MLflow's store code holds the interpreter lock, so a writer *thread* would
still slow the optimisation; a process can use another core. The optimising
process only pickles plain records onto the queue.

The writer is forked when that is safe (see `process_context`). It ignores
Ctrl-C, SIGTERM and SIGHUP, which a terminal or CML sends to the whole process
group: its owner decides when it stops (`BackgroundWriter.close`), so nothing
queued is lost to a signal; and it exits by itself within a second of its
owner's death (`watch_parent`), even in the middle of a write.
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

from search.common.processes import process_context, watch_parent
from search.common.processes import start as start_process
from search.tracking._records import RunRecord
from search.tracking._writer import Outcome, RunUpdate, RunWriter, WriteError, as_write_error

_STOP = "stop"
#: Writers not closed yet: closed at interpreter exit, before multiprocessing's own exit handler would wait
#: forever for a writer that (rightly) ignores the SIGTERM it sends.
_open_writers: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


def _serve(tracking_uri: str, inbox: Queue, outbox: Queue, owner: int) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    watch_parent(owner)
    try:
        writer = RunWriter(tracking_uri)
        outbox.put(("ready",))
        _write_from(inbox, outbox, writer)
    except Exception as error:  # the writer cannot work at all: its owner takes over, told why (no traceback)
        outbox.put(("died", None, as_write_error(error)))


def _write_from(inbox: Queue, outbox: Queue, writer: RunWriter) -> None:
    """Write what arrives, answering for each record. After an outage, records are answered "not tried"
    without touching the store until a probe gets through: a store that hangs costs one timeout, not one each.
    """
    down: WriteError | None = None
    while True:
        item = inbox.get()
        kind = item[0]
        if kind == _STOP:
            return
        if kind == "flush":
            outbox.put(("flushed", item[1]))
            continue
        key = item[1].key if kind in ("write", "probe") else None
        if down is not None and kind != "probe":
            outbox.put(("failed", key, WriteError(f"not tried: the store was down ({down})", outage=True)))
            continue
        try:
            if kind == "update":
                writer.update(item[1])
            else:
                record, experiment_id, parent_run_id = item[1:]
                outbox.put(("written", key, writer.write(record, experiment_id, parent_run_id)))
            down = None
        except Exception as error:  # reported back, never lost
            failure = as_write_error(error)
            down = failure if failure.outage else down
            outbox.put(("failed", key, failure))


class BackgroundWriter:
    """Same interface as `RunWriter`, but ``write`` only queues; `outcomes`, `flush` and `close` report back.

    Args:
        tracking_uri: The store to write to.
    """

    def __init__(self, tracking_uri: str) -> None:
        context = process_context()
        self._inbox = context.Queue()
        self._outbox = context.Queue()
        self._process = context.Process(
            target=_serve,
            args=(tracking_uri, self._inbox, self._outbox, os.getpid()),
            name="mlflow-writer",
            daemon=True,
        )
        start_process(self._process)
        self._flushes = 0
        #: Whether to send it records: a spawned writer imports MLflow first, seconds in which its owner writes
        #: them itself; a forked one (by us or by the fork server) has MLflow already, and takes them at once.
        self.ready = context.get_start_method() != "spawn"
        #: Why the writer stopped working, if it said.
        self.death: WriteError | None = None
        _open_writers.add(self)

    def write(self, record: RunRecord, experiment_id: str, parent_run_id: str | None, *, probe: bool = False) -> None:
        """Queue ``record``; a ``probe`` is tried even while the store is down (to see whether it is back)."""
        self._inbox.put(("probe" if probe else "write", record, experiment_id, parent_run_id))

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def update(self, update: RunUpdate) -> None:
        self._inbox.put(("update", update))

    def outcomes(self) -> list[Outcome]:
        """What the writer has reported since the last call."""
        found = []
        while True:
            try:
                message = self._outbox.get_nowait()
            except (queue.Empty, OSError, ValueError):  # nothing more, or the queue is closed
                return found
            if message[0] == "died":
                self.death = message[2]
            elif message[0] == "ready":
                self.ready = True
            elif message[0] != "flushed":
                found.append((message[1], message[2]))

    def flush(self, timeout: float) -> tuple[list[Outcome], bool]:
        """Wait up to ``timeout`` s for everything queued so far; the outcomes, and whether all came back."""
        self._flushes += 1
        token = self._flushes
        self._inbox.put(("flush", token))
        found = []
        deadline = time.monotonic() + timeout
        while self._process.is_alive():
            try:
                message = self._outbox.get(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    return found, False
                continue
            if message[0] == "flushed":
                if message[1] == token:
                    return found, True
                continue
            if message[0] == "died":
                self.death = message[2]
                continue
            if message[0] == "ready":
                self.ready = True
                continue
            found.append((message[1], message[2]))
        found += self.outcomes()
        return found, False

    def close(self, timeout: float = 10.0) -> list[Outcome]:
        """Stop the writer once it has written what is queued (killed after ``timeout`` s); its last outcomes."""
        _open_writers.discard(self)
        found = []
        if self._process.is_alive():
            self._inbox.put((_STOP,))
            deadline = time.monotonic() + timeout
            while self._process.is_alive() and time.monotonic() < deadline:
                found += self.outcomes()
                self._process.join(0.05)
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        found += self.outcomes()
        self._inbox.close()
        self._outbox.close()
        self._inbox.cancel_join_thread()  # never block the owner's exit on a queue nobody reads any more
        return found


@atexit.register
def _close_open_writers() -> None:
    for writer in list(_open_writers):
        writer.close()


__all__ = ["BackgroundWriter"]
