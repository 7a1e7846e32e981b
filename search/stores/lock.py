"""A lock file beside a database file, so one process creates and migrates it while the others wait.

Optuna's and MLflow's schema creation both race when several commands start on
a store that does not exist yet (tables half-created, "database is locked").
The lock is ``<file>.search-lock``; it is removed once the store exists.
POSIX only (``fcntl``), like the sqlite locking it complements.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SUFFIX = ".search-lock"


@contextmanager
def creating(path: Path | None) -> Iterator[None]:
    """Hold ``<path>.search-lock`` exclusively while the block runs (no-op for ``None``)."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + SUFFIX)
    while True:
        lock = open(lock_path, "a")  # noqa: SIM115 - held until the block ends, closed in finally
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            on_disk = os.stat(lock_path)
        except FileNotFoundError:
            on_disk = None
        held = os.fstat(lock.fileno())
        if on_disk is not None and (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino):
            break
        lock.close()  # the holder removed the file while we waited: lock the new one
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # before unlocking, so a waiter sees it gone and retries
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
