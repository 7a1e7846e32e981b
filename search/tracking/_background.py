"""A writer process that takes run records off a queue, so logging runs beside the study.

MLflow's store code holds the interpreter lock, so a writer *thread* would
still slow the optimisation; a process can use another core. The optimising
process only pickles plain records onto the queue.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

from search.tracking._records import RunRecord
from search.tracking._writer import RunUpdate, RunWriter

_FLUSH, _STOP = "flush", "stop"


def _forget_inherited_connections() -> None:
    """In a forked writer, leave the parent's pooled database connections to the parent.

    SQLAlchemy's recipe for forked children (``Engine.dispose(close=False)``),
    applied to the engines MLflow's sqlalchemy store keeps per URI.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    for engine in list(getattr(SqlAlchemyStore, "_engine_map", {}).values()):
        engine.dispose(close=False)


def _serve(tracking_uri: str, inbox: Any, outbox: Any, forked: bool) -> None:
    if forked:
        _forget_inherited_connections()
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
    """Same interface as `RunWriter`, but ``write`` only queues; ``flush`` reports the outcomes.

    Several writer processes share the work (a trial always goes to the same
    one, so a retry updates its run); the study run's updates all go to the
    first, so they stay in order.
    """

    def __init__(self, tracking_uri: str, processes: int = 2) -> None:
        self._foreground = RunWriter(tracking_uri)
        self.client = self._foreground.client  # experiments and study runs are made up front
        # fork shares the already-imported MLflow (spawn re-imports it: ~1.5 s of CPU per writer, taken
        # from the study); forking is only safe while this process runs a single thread.
        forked = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if forked else "spawn")
        self._outbox = context.Queue()
        self._inboxes = [context.Queue() for _ in range(max(1, processes))]
        self._processes = [
            context.Process(target=_serve, args=(tracking_uri, inbox, self._outbox, forked), name=f"mlflow-writer-{i}",
                            daemon=True)
            for i, inbox in enumerate(self._inboxes)
        ]
        for process in self._processes:
            process.start()

    def write(self, record: RunRecord, experiment_id: str, parent_run_id: str | None) -> None:
        self._inboxes[record.trial_id % len(self._inboxes)].put((record, experiment_id, parent_run_id))

    def update(self, update: RunUpdate) -> None:
        self._inboxes[0].put(update)

    def flush(self) -> dict[int, str | BaseException]:
        """Wait until everything queued is written; the run id or error of each trial since the last flush."""
        if not all(process.is_alive() for process in self._processes):
            raise RuntimeError("an MLflow writer process has stopped")
        for inbox in self._inboxes:
            inbox.put(_FLUSH)
        outcomes: dict[int, str | BaseException] = {}
        for _ in self._inboxes:
            outcomes.update(self._outbox.get())
        return outcomes

    def close(self) -> None:
        for inbox, process in zip(self._inboxes, self._processes):
            if process.is_alive():
                inbox.put(_STOP)
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
