"""Database connections across ``fork``: a forked worker never uses a connection its parent opened.

Optuna's and MLflow's SQLAlchemy engines keep pooled connections; a forked
child inherits them, and two processes talking over one connection corrupt
each other's conversation. SQLAlchemy's documented recipe ("Using Connection
Pools with Multiprocessing or os.fork()"), applied to every pool: a
connection checked out in another process than the one that opened it is
dropped (not closed: it is still the parent's) and replaced by a new one.
"""

from __future__ import annotations

import os

_installed = False


def guard_pooled_connections() -> None:
    """Install the guard once per process; call before forking."""
    global _installed
    if _installed:
        return
    from sqlalchemy import event, exc
    from sqlalchemy.pool import Pool

    owner = os.getpid()  # connections opened before the guard are this process's

    def connect(dbapi_connection: object, record: object) -> None:
        record.info["pid"] = os.getpid()  # type: ignore[attr-defined]

    def checkout(dbapi_connection: object, record: object, proxy: object) -> None:
        opened_by = record.info.get("pid", owner)  # type: ignore[attr-defined]
        if opened_by != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None  # type: ignore[attr-defined]
            raise exc.DisconnectionError(f"connection opened by process {opened_by}, not this one")

    event.listen(Pool, "connect", connect)
    event.listen(Pool, "checkout", checkout)
    _installed = True
