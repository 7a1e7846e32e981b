"""A new local tracking store is created and migrated once, however many processes open it at the same moment.

MLflow's schema creation races with itself: processes that open a new sqlite
store together see half-made tables ("table experiments already exists",
"database is locked"). A lock file beside the database, ``<file>.search-lock``,
lets one process create it while the others wait; it is removed once the store
exists. POSIX only (``fcntl``), like the sqlite locking it complements.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_SUFFIX = ".search-lock"
SQLITE_PREFIX = "sqlite:///"


def sqlite_file(uri: str) -> Path | None:
    """The database file of an ``sqlite:///`` URI (None for other stores and in-memory ones)."""
    if not uri.startswith(SQLITE_PREFIX):
        return None
    path = uri[len(SQLITE_PREFIX) :].split("?")[0]
    return Path(path) if path and path != ":memory:" else None


@contextmanager
def creating(path: Path | None) -> Iterator[None]:
    """Hold ``<path>.search-lock`` exclusively while the block runs (no-op for ``None``).

    A lock file left by a killed process never blocks: ``flock`` locks die with
    their process, and the file itself is only a name to lock.
    """
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + LOCK_SUFFIX)
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


def prepare_store(tracking_uri: str) -> None:
    """Open a database store once in this process (creating and migrating it, under the lock for a file).

    A tracking server (``http(s)://``) is left alone: it keeps its own database.
    """
    if tracking_uri.strip().lower().startswith(("http://", "https://", "databricks")):
        return
    from mlflow import MlflowClient

    path = sqlite_file(tracking_uri)
    with creating(path):
        if path is not None and not path.exists():
            _create_whole(path)
        MlflowClient(tracking_uri).search_experiments(max_results=1)


def _create_whole(path: Path) -> None:
    """Make and migrate a new sqlite store under another name, then rename it into place.

    A store whose migration was cut short (Ctrl-C, kill -9) is never left half-made: every later
    command failed on it ("table _alembic_tmp_tags already exists").
    """
    from mlflow import MlflowClient

    making = path.with_name(f".{path.name}.{os.getpid()}.creating")
    try:
        MlflowClient(SQLITE_PREFIX + str(making)).search_experiments(max_results=1)
        os.replace(making, path)
    except BaseException as error:
        making.unlink(missing_ok=True)
        if not isinstance(error, KeyboardInterrupt) and _interrupted(error):
            raise KeyboardInterrupt from None  # MLflow's migration turns a Ctrl-C into its own database errors
        raise


def _interrupted(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False
