"""Optuna storages chosen by URL, so the same command runs on a laptop and a cluster.

- ``sqlite:///optuna.db`` (the default), ``postgresql://…``, ``mysql://…``: Optuna's RDB storage.
- ``redis://host:6379/0?prefix=team-a:``: Optuna's journal storage on Redis (many workers,
  many machines; ``prefix`` keeps several teams' studies apart).
- a path ending in ``.journal``: Optuna's journal storage in a file (many worker
  processes, no "database is locked").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from search.errors import InputError, SearchError
from search.stores.lock import creating
from search.stores.urls import mask, sqlite_path
from search.tracking import one_line

if TYPE_CHECKING:
    import optuna

JOURNAL_SUFFIX = ".journal"
#: Optuna's heartbeat on the RDB storages: a running trial writes every HEARTBEAT_SECONDS; one
#: silent for GRACE_SECONDS is failed (and queued again) by the next trial of any worker.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 40
#: How often a trial whose process died is queued again before it stays failed.
STALE_TRIAL_RETRIES = 2
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class StorageError(SearchError):
    """The storage cannot be opened (unreachable server, unwritable file)."""


class StorageURLError(InputError, StorageError):
    """The storage URL is malformed or names a kind of storage Optuna has not."""


def is_journal_file(url: str) -> bool:
    return "://" not in url and url.endswith(JOURNAL_SUFFIX)


def check_storage_url(url: str) -> None:
    """Refuse a malformed URL before any work starts (opening may still fail later)."""
    if not url.startswith(REDIS_SCHEMES) and not is_journal_file(url):
        _check_rdb_url(url)


def open_storage(url: str, read_only: bool = False, heartbeat: bool = False) -> optuna.storages.BaseStorage:
    """The Optuna storage ``url`` names, created (and migrated) if it does not exist yet.

    ``read_only`` skips table creation and the schema check, for commands that
    only read a study (``search best``): they answer in about half the time.
    ``heartbeat`` turns on Optuna's heartbeat where the storage has one (RDB),
    for commands that run trials.
    """
    import warnings

    import optuna

    try:
        with warnings.catch_warnings():  # the journal storages are "experimental" but long stable
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return _open(url, read_only, heartbeat)
    except StorageError:
        raise
    except Exception as error:  # Optuna wraps the driver's error (e.g. "Connection refused"): say that one
        raise StorageError(f"cannot open Optuna storage {mask(url)}: {one_line(error.__cause__ or error)}") from None


def _open(url: str, read_only: bool, heartbeat: bool) -> optuna.storages.BaseStorage:
    import optuna

    if url.startswith(REDIS_SCHEMES):
        from optuna.storages.journal import JournalRedisBackend

        redis_url, prefix = _split_prefix(url)
        return optuna.storages.JournalStorage(JournalRedisBackend(redis_url, prefix=prefix))
    if is_journal_file(url):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        return optuna.storages.JournalStorage(JournalFileBackend(url, lock_obj=JournalFileOpenLock(url)))
    _check_rdb_url(url)
    if read_only:
        path = sqlite_path(url)
        if path is not None and not path.is_file():
            raise StorageURLError(f"no Optuna storage at {path}: run a study first, or pass --storage")
        return optuna.storages.RDBStorage(
            url, engine_kwargs=_engine_kwargs(url), skip_compatibility_check=True, skip_table_creation=True
        )
    beat = {}
    if heartbeat:
        beat = {
            "heartbeat_interval": HEARTBEAT_SECONDS,
            "grace_period": GRACE_SECONDS,
            "heartbeat_stale_trial_callback": stale_trial_retry(),
        }
    with creating(sqlite_path(url)):  # one process creates the tables; the others wait, then load
        return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url), **beat)


def load_study(study_name: str, storage: str) -> optuna.study.Study:
    """The study ``study_name``, opened read-only; a missing one is a one-line error naming those there are."""
    import optuna

    from search.stores.urls import resolve_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    backend = open_storage(resolve_storage(storage), read_only=True)
    try:
        return optuna.load_study(study_name=study_name, storage=backend)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(backend, include_best_trial=False)]
        raise InputError(f"no study {study_name!r} in the storage; it has: {', '.join(names) or 'none'}") from None


def holds_studies(url: str) -> bool:
    """Whether the storage at ``url`` exists and has Optuna's tables (without creating or migrating anything)."""
    if url.startswith(REDIS_SCHEMES):
        return True  # a journal: reading it writes nothing
    if is_journal_file(url):
        from pathlib import Path

        return Path(url).exists()
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return False
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url, **_engine_kwargs(url))
    try:
        return inspect(engine).has_table("studies")
    except Exception as error:
        raise StorageError(f"cannot open Optuna storage {mask(url)}: {one_line(error)}") from None
    finally:
        engine.dispose()


def stale_trial_retry() -> Callable[[optuna.study.Study, optuna.trial.FrozenTrial], None]:
    """Optuna's callback queuing a trial whose process died again, with the same parameters."""
    import warnings

    import optuna

    with warnings.catch_warnings():  # "experimental" since Optuna 2.8, and stable
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=STALE_TRIAL_RETRIES)


def _split_prefix(url: str) -> tuple[str, str]:
    """``redis://host/0?prefix=team-a:`` → the Redis URL and the key prefix of the journal."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = "".join(value for key, value in query if key == "prefix")
    rest = urlencode([(key, value) for key, value in query if key != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def _check_rdb_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageURLError(
            f"malformed storage URL {mask(url)!r}: expected e.g. sqlite:///optuna.db, "
            "postgresql://user@host/db, redis://host:6379 or a path ending in .journal"
        ) from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise StorageURLError(f"unsupported storage URL scheme {parsed.drivername!r} in {mask(url)!r}") from None


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        # Wait for a concurrent writer instead of failing at once with "database is locked".
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}
