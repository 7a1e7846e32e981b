"""Starting helper processes: forked while that is safe, with no database connection shared across the fork.

A forked process shares the parent's imported libraries (no second import of
MLflow, about 1.5 s of CPU), but it inherits the parent's pooled database
connections: two processes talking over one connection corrupt each other's
conversation. SQLAlchemy's documented recipe ("Using Connection Pools with
Multiprocessing or os.fork()"), applied to every pool, makes a child drop such
a connection (without closing it: it is still the parent's) and open its own.
That guard runs after a pool's pre-ping, which a child would send over the
parent's socket (and a failed ping closes it): an engine with pre-ping is
passed to `forget_in_children`, the recipe's other half, so a child starts it
with an empty pool.

Forking a process that runs threads can copy a held lock, so then a helper is
forked by multiprocessing's fork server instead: a clean process started once
per owner, with MLflow imported once, which forks each helper in milliseconds
(a spawned interpreter would import MLflow again for each, about 2.7 s of CPU:
a notebook's kernel always runs threads, and MLflow leaves an artifact thread
pool behind once a model is logged).

A helper must never outlive its owner: `watch_parent` ends it within a second
of the owner's death (kill -9 included), whatever it is doing.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess

    from sqlalchemy.engine import Engine
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

_guarded = False
#: Engines a forked child starts with an empty pool (see `forget_in_children`).
_forgotten_in_children: weakref.WeakSet[Engine] = weakref.WeakSet()
#: How often a helper looks whether its owner is still there.
PARENT_CHECK_SECONDS = 0.5
#: What the fork server imports once, before it forks any helper: what a helper's work imports.
FORK_SERVER_PRELOAD = ("mlflow", "mlflow.store.tracking.sqlalchemy_store", "search.tracking._background")


def process_context() -> BaseContext:
    """The multiprocessing context to start a helper process with, decided here for every caller."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" not in methods:
        return multiprocessing.get_context("spawn")
    if threading.active_count() == 1:
        _guard_pooled_connections()
        return multiprocessing.get_context("fork")
    server = multiprocessing.get_context("forkserver")
    server.set_forkserver_preload(list(FORK_SERVER_PRELOAD))  # read when the server starts, once per process
    return server


def start(process: BaseProcess) -> None:
    """Start a helper process without running the user's script again in it.

    A spawned interpreter first imports the parent's ``__main__`` (multiprocessing's rule, for the
    main module's pickled functions). A helper runs only the toolkit's code, so a script calling
    `search.tune` without an ``if __name__ == "__main__":`` guard must not start its study again.
    """
    main = sys.modules.get("__main__")
    saved = {name: main.__dict__.pop(name) for name in ("__file__",) if main is not None and name in main.__dict__}
    spec = getattr(main, "__spec__", None)
    try:
        if main is not None:
            main.__spec__ = None
        process.start()
    finally:
        if main is not None:
            main.__spec__ = spec
            main.__dict__.update(saved)


def watch_parent(owner: int, exit_code: int = 1) -> None:
    """In a helper process: exit at once (``os._exit``) when process ``owner``, which started it, is gone.

    The helper's parent is ``owner``, or the fork server ``owner`` started, which ends when ``owner`` does:
    either way the parent changes when ``owner`` dies.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent and _exists(owner):
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(exit_code)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone (or its number now someone else's)
        return False
    return True


def forget_in_children(engine: Engine) -> None:
    """Have a forked child start ``engine`` with an empty pool, never touching the parent's connections."""
    _forgotten_in_children.add(engine)


def _empty_inherited_pools() -> None:
    for engine in list(_forgotten_in_children):
        engine.dispose(close=False)  # SQLAlchemy's recipe: the parent's connections are dropped, not closed


os.register_at_fork(after_in_child=_empty_inherited_pools)


def _guard_pooled_connections() -> None:
    global _guarded
    if _guarded:
        return
    from sqlalchemy import event, exc
    from sqlalchemy.pool import Pool

    owner = os.getpid()  # connections opened before the guard are this process's

    def connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["pid"] = os.getpid()

    def checkout(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        opened_by = record.info.get("pid", owner)
        if opened_by != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None  # type: ignore[misc]
            raise exc.DisconnectionError(f"connection opened by process {opened_by}, not this one")

    event.listen(Pool, "connect", connect)
    event.listen(Pool, "checkout", checkout)
    _guarded = True
