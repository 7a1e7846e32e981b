"""A writer process that takes run records off a queue, so logging runs beside the study.

MLflow's store code holds the interpreter lock, so a writer *thread* would
still slow the optimisation; a process can use another core. The optimising
process only pickles plain records onto the queue.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from search.tracking._records import RunRecord
from search.tracking._writer import RunUpdate, RunWriter

_FLUSH, _STOP = "flush", "stop"


def _serve(tracking_uri: str, inbox: Any, outbox: Any) -> None:
    writer = RunWriter(tracking_uri)
    outcomes: dict[int, Any] = {}
    while True:
        item = inbox.get()
        if item == _STOP:
            return
        if item == _FLUSH:
            outbox.put(outcomes)
            outcomes = {}
            continue
        try:
            if isinstance(item, RunUpdate):
                writer.update(item)
            else:
                record, experiment_id, parent_run_id = item
                outcomes[record.trial_id] = writer.write(record, experiment_id, parent_run_id)
        except Exception as error:  # reported back at flush, never lost
            if not isinstance(item, RunUpdate):
                outcomes[item[0].trial_id] = RuntimeError(f"{type(error).__name__}: {error}")


class BackgroundWriter:
    """Same interface as `RunWriter`, but ``write`` only queues; ``flush`` reports the outcomes."""

    def __init__(self, tracking_uri: str) -> None:
        self._foreground = RunWriter(tracking_uri)
        self.client = self._foreground.client  # experiments and study runs are made up front
        context = multiprocessing.get_context("spawn")
        self._inbox, self._outbox = context.Queue(), context.Queue()
        self._process = context.Process(
            target=_serve, args=(tracking_uri, self._inbox, self._outbox), name="mlflow-writer", daemon=True
        )
        self._process.start()

    def write(self, record: RunRecord, experiment_id: str, parent_run_id: str | None) -> None:
        self._inbox.put((record, experiment_id, parent_run_id))

    def update(self, update: RunUpdate) -> None:
        self._inbox.put(update)

    def flush(self) -> dict[int, str | BaseException]:
        """Wait until everything queued is written; the run id or error of each trial since the last flush."""
        if not self._process.is_alive():
            raise RuntimeError("the MLflow writer process has stopped")
        self._inbox.put(_FLUSH)
        return self._outbox.get()

    def close(self) -> None:
        if self._process.is_alive():
            self._inbox.put(_STOP)
            self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
