"""Starting helper processes: forked while that is safe, with no database connection shared across the fork.

A forked process shares the parent's imported libraries (no second import of
MLflow, about 1.5 s of CPU), but it inherits the parent's pooled database
connections: two processes talking over one connection corrupt each other's
conversation. SQLAlchemy's documented recipe ("Using Connection Pools with
Multiprocessing or os.fork()"), applied to every pool, makes a child drop such
a connection (without closing it: it is still the parent's) and open its own.
Forking a process that runs threads can copy a held lock, so then a fresh
interpreter is started instead (``spawn``).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any

_guarded = False


def process_context() -> Any:
    """The multiprocessing context to start a helper process with, decided here for every caller."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        _guard_pooled_connections()
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _guard_pooled_connections() -> None:
    global _guarded
    if _guarded:
        return
    from sqlalchemy import event, exc
    from sqlalchemy.pool import Pool

    owner = os.getpid()  # connections opened before the guard are this process's

    def connect(dbapi_connection: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        opened_by = record.info.get("pid", owner)
        if opened_by != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError(f"connection opened by process {opened_by}, not this one")

    event.listen(Pool, "connect", connect)
    event.listen(Pool, "checkout", checkout)
    _guarded = True
