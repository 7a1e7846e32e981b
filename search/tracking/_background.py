"""A writer process that takes run records off a queue, so logging runs beside the study.

MLflow's store code holds the interpreter lock, so a writer *thread* would
still slow the optimisation; a process can use another core. The optimising
process only pickles plain records onto the queue.

The writer is forked when that is safe (see `process_context`). It ignores Ctrl-C and SIGTERM, which
a terminal or CML sends to the whole process group: its owner decides when it
stops (`BackgroundWriter.close`), so nothing queued is lost to a signal, and
it exits by itself if its owner dies.
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import time
import weakref
from typing import Any

from search.tracking._client import WriteError, as_write_error
from search.tracking._processes import process_context
from search.tracking._records import RunRecord
from search.tracking._writer import RunUpdate, RunWriter

_STOP = "stop"
#: Writers not closed yet: closed at interpreter exit, before multiprocessing's own exit handler would wait
#: forever for a writer that (rightly) ignores the SIGTERM it sends.
_open_writers: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()
#: How often an idle writer checks that its owner is still alive.
_OWNER_CHECK_SECONDS = 1.0


def _serve(tracking_uri: str, inbox: Any, outbox: Any, owner: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    writer = RunWriter(tracking_uri)
    while True:
        try:
            item = inbox.get(timeout=_OWNER_CHECK_SECONDS)
        except queue.Empty:
            if os.getppid() != owner:  # the owner died without stopping us
                return
            continue
        kind = item[0]
        if kind == _STOP:
            return
        if kind == "flush":
            outbox.put(("flushed", item[1]))
            continue
        try:
            if kind == "update":
                writer.update(item[1])
            else:
                record, experiment_id, parent_run_id = item[1:]
                outbox.put(("written", record.key, writer.write(record, experiment_id, parent_run_id)))
        except Exception as error:  # reported back, never lost
            outbox.put(("failed", item[1].key if kind == "write" else None, as_write_error(error)))


class BackgroundWriter:
    """Same interface as `RunWriter`, but ``write`` only queues; `outcomes` and `flush` report back.

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
        self._process.start()
        self._flushes = 0
        _open_writers.add(self)

    def write(self, record: RunRecord, experiment_id: str, parent_run_id: str | None) -> None:
        self._inbox.put(("write", record, experiment_id, parent_run_id))

    def update(self, update: RunUpdate) -> None:
        self._inbox.put(("update", update))

    def outcomes(self) -> list[tuple[tuple[str, int] | None, str | WriteError]]:
        """What the writer has reported since the last call: ``(trial key, run id or error)``."""
        found = []
        while True:
            try:
                message = self._outbox.get_nowait()
            except queue.Empty:
                return found
            if message[0] != "flushed":
                found.append((message[1], message[2]))

    def flush(self, timeout: float) -> tuple[list[tuple[tuple[str, int] | None, str | WriteError]], bool]:
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
            found.append((message[1], message[2]))
        found += self.outcomes()
        return found, False

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer once it has written what is queued (or after ``timeout`` s)."""
        _open_writers.discard(self)
        if self._process.is_alive():
            self._inbox.put((_STOP,))
            self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._inbox.close()
        self._outbox.close()
        self._inbox.cancel_join_thread()  # never block the owner's exit on a queue nobody reads any more


@atexit.register
def _close_open_writers() -> None:
    for writer in list(_open_writers):
        writer.close()


__all__ = ["BackgroundWriter"]
