"""A lock file beside a database, so only one process creates and migrates it.

Optuna's and MLflow's schema creation both race when several workers start on
a store that does not exist yet (tables half-created, "database is locked").
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def sqlite_path(uri: str) -> Path | None:
    """The database file of an ``sqlite:///`` URI (None for other stores and in-memory ones)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?")[0]
    return Path(path) if path and path != ":memory:" else None


@contextmanager
def creating(path: Path | None) -> Iterator[None]:
    """Hold ``<path>.lock`` exclusively (no-op for ``None``)."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
